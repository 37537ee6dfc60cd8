"""The block storage service (Cinder v3) as compute uses it: volumes to boot from or attach,
created from images when the block device mapping asks, and their attachments; the re-image
of a rebuilt server's root volume; how an assisted snapshot went."""

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

    async def create_snapshot(
        self, volume_id: str, name: str, force: bool = True
    ) -> dict[str, Any]:
        """A snapshot of the volume; `force` takes one of an attached volume."""
        body = {"snapshot": {"volume_id": volume_id, "name": name, "force": force}}
        response = await self.request("POST", "/snapshots", json_body=body)
        snapshot: dict[str, Any] = response.json()["snapshot"]
        return snapshot

    async def get_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        response = await self.request("GET", f"/snapshots/{snapshot_id}")
        snapshot: dict[str, Any] = response.json()["snapshot"]
        return snapshot

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

    async def instance_attachments(self, instance_uuid: str) -> list[dict[str, Any]]:
        """Every attachment of the instance's, in any project and state (for an admin)."""
        response = await self.request(
            "GET", "/attachments/detail", params={"instance_id": instance_uuid, "all_tenants": "1"}
        )
        found: list[dict[str, Any]] = response.json()["attachments"]
        return found

    async def _action(
        self, volume_id: str, body: dict[str, Any], version: str | None = None
    ) -> dict[str, Any]:
        headers = {"OpenStack-API-Version": f"volume {version}"} if version else None
        response = await self.request(
            "POST", f"/volumes/{volume_id}/action", json_body=body, headers=headers
        )
        answer: dict[str, Any] = response.json() if response.content else {}
        return answer

    async def begin_detaching(self, volume_id: str) -> None:
        await self._action(volume_id, {"os-begin_detaching": {}})

    async def roll_detaching(self, volume_id: str) -> None:
        await self._action(volume_id, {"os-roll_detaching": {}})

    async def migrate_volume_completion(self, volume_id: str, new_id: str, error: bool) -> str:
        """Tell the volume service how a swap from `volume_id` to `new_id` ended; the id the
        server's disk keeps (`save_volume_id`)."""
        body = {"os-migrate_volume_completion": {"new_volume": new_id, "error": error}}
        return str((await self._action(volume_id, body))["save_volume_id"])

    async def reimage(self, volume_id: str, image_id: str, reserved: bool) -> None:
        """3.68: write the image over the volume (`reserved`: one a server holds by a
        reserved attachment while it is rebuilt); `volume-reimaged` tells when it is done."""
        body = {"os-reimage": {"image_id": image_id, "reimage_reserved": reserved}}
        await self._action(volume_id, body, "3.68")

    async def update_snapshot_status(
        self, snapshot_id: str, status: str, progress: str | None = None
    ) -> None:
        """How compute's part of an assisted snapshot went (`os-update_snapshot_status`)."""
        args = {"status": status, **({"progress": progress} if progress else {})}
        await self.request(
            "POST",
            f"/snapshots/{snapshot_id}/action",
            json_body={"os-update_snapshot_status": args},
        )

    async def extend_volume_completion(self, volume_id: str, error: bool) -> None:
        """3.71: tell the volume service how growing an attached volume ended in the guest."""
        await self._action(volume_id, {"os-extend_volume_completion": {"error": error}}, "3.71")
