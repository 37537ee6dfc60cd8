from overcast.common.db import migrate
from overcast.dashboard import models

migrate.run_env(models.Base.metadata)
