"""VolumeState: what the block storage API's routes and domain functions share (settings,
database, bus, policy, the image service's client). Built once by `service.VolumeService`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from overcast.clients.image import ImageClient
from overcast.common import errors
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.session import Database
from overcast.common.http.policy import Policy


@dataclass
class VolumeState:
    settings: Settings
    db: Database
    bus: Bus
    policy: Policy
    endpoint: Callable[[str], str]  # the catalog URL of a service type

    def images(self, ctx: dict[str, Any]) -> ImageClient:
        """The image service, acting with the caller's token."""
        try:
            url = self.endpoint("image")
        except errors.ServiceUnavailable as exc:
            raise errors.BadRequest("There is no image service in this cloud.") from exc
        return ImageClient(url, ctx.get("auth_token"))
