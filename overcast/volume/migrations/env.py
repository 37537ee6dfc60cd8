from overcast.common.db import migrate
from overcast.volume import models

migrate.run_env(models.Base.metadata)
