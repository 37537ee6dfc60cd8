"""Tells compute when a port of a server goes up or down, as Neutron's Nova notifier does:
`network-vif-plugged` / `network-vif-unplugged` through Nova's `os-server-external-events`,
with the service credentials. A server compute does not know (404) is not an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from overcast.clients.compute import ComputeClient
from overcast.clients.identity import ServiceToken
from overcast.common import errors, log
from overcast.common.config import Settings

LOG = log.get(__name__)


class NovaNotifier:
    def __init__(self, settings: Settings, endpoint: Callable[[str], str]) -> None:
        self.token = ServiceToken(settings)
        self.endpoint = endpoint

    async def port_status(self, port: dict[str, Any], status: str) -> None:
        name = "network-vif-plugged" if status == "ACTIVE" else "network-vif-unplugged"
        event = {
            "name": name,
            "server_uuid": port["device_id"],
            "tag": port["id"],
            "status": "completed",
        }
        try:
            url = self.endpoint("compute")
        except errors.ServiceUnavailable:
            return
        for attempt in range(2):
            client = ComputeClient(url, await self.token.get())
            try:
                await client.external_events([event])
                return
            except errors.Unauthorized:
                self.token.forget()
                if attempt:
                    raise
            except errors.NotFound:
                LOG.info("compute does not know the server", extra={"fields": event})
                return
            except errors.OvercastError as exc:
                LOG.warning(
                    "could not notify compute", extra={"fields": {**event, "error": exc.message}}
                )
                return
