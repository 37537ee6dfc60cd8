"""The configured stores (Glance's `enabled_backends`), the default one, and the staging area.

Built once from settings: `[image] stores` names them, `store_drivers` maps a name to its
driver (a name not mapped is its own driver), `default_store` receives uploads that name none.
"""

from __future__ import annotations

from dataclasses import dataclass

from overcast.common import errors, log
from overcast.common.config import Settings
from overcast.image import drivers
from overcast.image.drivers import file

LOG = log.get(__name__)
STAGING = "staging"  # the reserved name of glance-direct's staging area


class _Callbacks:
    def warn(self, message: str) -> None:
        LOG.warning(message)


@dataclass
class Stores:
    by_name: dict[str, drivers.Store]
    default: str
    staging: file.FileStore

    @classmethod
    def from_settings(cls, settings: Settings) -> Stores:
        cfg = settings.image
        callbacks = _Callbacks()
        names = list(dict.fromkeys(cfg.stores))
        if STAGING in names:
            raise errors.BadRequest(f"'{STAGING}' is reserved and cannot name an image store.")
        if cfg.default_store not in names:
            raise errors.BadRequest(
                f"The default image store {cfg.default_store!r} is not one of {names}."
            )
        by_name = {
            name: drivers.load(settings, name, cfg.store_drivers.get(name, name), callbacks)
            for name in names
        }
        staging = file.FileStore(settings, STAGING, callbacks)
        return cls(by_name, cfg.default_store, staging)

    def get(self, name: str | None) -> drivers.Store:
        """The store `name` (the default when None); BadRequest for an unknown name."""
        found = self.by_name.get(name or self.default)
        if found is None:
            raise errors.BadRequest(f"Store for identifier {name} not found.")
        return found

    def all(self) -> list[drivers.Store]:
        return list(self.by_name.values())
