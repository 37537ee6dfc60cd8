"""The compute service (Nova v2.1) as the network service uses it: server external events
(`network-vif-plugged`, `network-vif-unplugged`) when a port of a server changes status."""

from __future__ import annotations

from typing import Any

from overcast.clients.base import RestClient


class ComputeClient(RestClient):
    service = "compute"

    async def external_events(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = await self.request(
            "POST", "/os-server-external-events", json_body={"events": events}
        )
        found: list[dict[str, Any]] = response.json().get("events", [])
        return found
