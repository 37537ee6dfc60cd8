"""The block storage service (Cinder v3) as compute uses it: volumes to boot from or attach,
created from images when the block device mapping asks, and their attachments."""

from __future__ import annotations

from typing import Any

from overcast.clients.base import RestClient

MICROVERSION = "volume 3.44"  # attachments API


class VolumeClient(RestClient):
    service = "volume"

    def __init__(self, endpoint: str, token: str | None, headers: dict[str, str] | None = None):
        super().__init__(
            endpoint, token, {"OpenStack-API-Version": MICROVERSION, **(headers or {})}
        )

    async def get_volume(self, volume_id: str) -> dict[str, Any]:
        response = await self.request("GET", f"/volumes/{volume_id}")
        volume: dict[str, Any] = response.json()["volume"]
        return volume

    async def create_volume(self, size: int, **fields: Any) -> dict[str, Any]:
        body = {"volume": {"size": size, **fields}}
        response = await self.request("POST", "/volumes", json_body=body)
        volume: dict[str, Any] = response.json()["volume"]
        return volume

    async def delete_volume(self, volume_id: str) -> None:
        await self.request("DELETE", f"/volumes/{volume_id}")

    async def create_attachment(
        self, volume_id: str, instance_uuid: str, connector: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = {
            "attachment": {
                "volume_uuid": volume_id,
                "instance_uuid": instance_uuid,
                "connector": connector,
            }
        }
        response = await self.request("POST", "/attachments", json_body=body)
        attachment: dict[str, Any] = response.json()["attachment"]
        return attachment

    async def update_attachment(
        self, attachment_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        """Give the attachment this host's connector; the answer carries the connection info."""
        body = {"attachment": {"connector": connector}}
        response = await self.request("PUT", f"/attachments/{attachment_id}", json_body=body)
        attachment: dict[str, Any] = response.json()["attachment"]
        return attachment

    async def complete_attachment(self, attachment_id: str) -> None:
        await self.request(
            "POST", f"/attachments/{attachment_id}/action", json_body={"os-complete": None}
        )

    async def delete_attachment(self, attachment_id: str) -> None:
        await self.request("DELETE", f"/attachments/{attachment_id}")
