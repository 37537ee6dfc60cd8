from overcast.common.db import migrate
from overcast.object_store import models

migrate.run_env(models.Base.metadata)
