from overcast.common.db import migrate
from overcast.identity import models

migrate.run_env(models.Base.metadata)
