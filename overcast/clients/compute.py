"""The compute service (Nova v2.1) as the other services use it: server external events
(`network-vif-plugged`, `network-vif-unplugged`) when a port of a server changes status, for
the network service; the swap of an attached volume for another, for the block storage
service's migration of an attached volume (as Cinder asks Nova)."""

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

    async def swap_volume(self, server_id: str, old_volume_id: str, new_volume_id: str) -> None:
        """Ask compute to move the server from one volume to the other (it copies the data,
        then calls `os-migrate_volume_completion`). Accepted: 202; the swap goes on."""
        body = {"volumeAttachment": {"volumeId": new_volume_id}}
        await self.request(
            "PUT", f"/servers/{server_id}/os-volume_attachments/{old_volume_id}", json_body=body
        )
