from overcast.common.db import migrate
from overcast.network import models

migrate.run_env(models.Base.metadata)
