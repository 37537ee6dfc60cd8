from overcast.common.db import migrate
from overcast.common.trace import store

migrate.run_env(store.Base.metadata)
