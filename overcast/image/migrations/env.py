from overcast.common.db import migrate
from overcast.image import models

migrate.run_env(models.Base.metadata)
