"""The host's part of an assisted volume snapshot (`compute.assisted_snapshots`): the driver
switches the guest's file of the attached volume (or merges one away), then the volume service
hears how it went (`os-update_snapshot_status`: `creating`/`deleting` at 90%, as Nova's libvirt
driver says it is done, or `error`/`error_deleting`). A driver that cannot (errors.NotSupported,
every driver today) fails the snapshot in the volume service too, so that it does not wait in
`creating` for an answer that never comes. Served on `compute.<host>`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from overcast.common import errors, log
from overcast.compute.agent.host import Host

LOG = log.get(__name__)


class AssistedSnapshots:
    def __init__(self, h: Host) -> None:
        self.h = h

    async def volume_snapshot_create(
        self,
        ctx: dict[str, Any],
        instance_uuid: str,
        volume_id: str,
        create_info: dict[str, Any],
    ) -> None:
        async def act(info: dict[str, Any]) -> None:
            await self.h.driver.volume_snapshot_create(instance_uuid, info, create_info)

        snapshot_id = str(create_info.get("snapshot_id"))
        await self._run(ctx, instance_uuid, volume_id, snapshot_id, act, "creating", "error")

    async def volume_snapshot_delete(
        self,
        ctx: dict[str, Any],
        instance_uuid: str,
        volume_id: str,
        snapshot_id: str,
        delete_info: dict[str, Any],
    ) -> None:
        async def act(info: dict[str, Any]) -> None:
            await self.h.driver.volume_snapshot_delete(
                instance_uuid, info, snapshot_id, delete_info
            )

        await self._run(
            ctx, instance_uuid, volume_id, snapshot_id, act, "deleting", "error_deleting"
        )

    async def _run(
        self,
        ctx: dict[str, Any],
        instance_uuid: str,
        volume_id: str,
        snapshot_id: str,
        act: Callable[[dict[str, Any]], Awaitable[None]],
        done: str,
        failed: str,
    ) -> None:
        """`act` on the volume's connection info, then the snapshot's status reported."""
        try:
            await act(await self._connection(ctx, instance_uuid, volume_id))
        except Exception as exc:  # noqa: BLE001 - every failure is reported the same way
            LOG.warning("assisted snapshot %s of volume %s on %s failed (%s): %s",
                        snapshot_id, volume_id, instance_uuid, done, exc)  # fmt: skip
            await self._report(ctx, snapshot_id, failed)
            return
        await self._report(ctx, snapshot_id, done, "90%")

    async def _connection(
        self, ctx: dict[str, Any], instance_uuid: str, volume_id: str
    ) -> dict[str, Any]:
        instance = await self.h.instance(ctx, instance_uuid)
        for item in instance.get("attachments") or []:
            if item.get("volume_id") == volume_id:
                return dict(item.get("connection_info") or {})
        raise errors.NotFound(f"Volume {volume_id} is not attached to {instance_uuid}.")

    async def _report(
        self, ctx: dict[str, Any], snapshot_id: str, status: str, progress: str | None = None
    ) -> None:
        client = self.h.remote.volume(ctx)
        if client is None:
            return
        try:
            await client.update_snapshot_status(snapshot_id, status, progress)
        except errors.OvercastError as exc:  # a snapshot the volume service does not know
            LOG.warning("snapshot %s could not be set %s: %s", snapshot_id, status, exc.message)
