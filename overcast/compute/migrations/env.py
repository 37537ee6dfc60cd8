from overcast.common.db import migrate
from overcast.compute import models

migrate.run_env(models.Base.metadata)
