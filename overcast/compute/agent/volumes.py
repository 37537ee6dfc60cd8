"""The compute agent's part of attaching a volume to a running server, detaching it and swapping
it for another (`os-volume_attachments`): the API has reserved the attachment in the volume
service; here the host gives it its connector, the driver attaches the disk (or copies it to
the new volume), the attachment is completed and the server's record lists the volume. Served
on `compute.<host>` as part of the agent's endpoint."""

from __future__ import annotations

from typing import Any

from overcast.clients.volume import VolumeClient
from overcast.common import errors, log
from overcast.compute import states, volumes
from overcast.compute.agent.host import ADMIN_CTX, Host, failed_event

LOG = log.get(__name__)


async def settle(h: Host, instances: list[dict[str, Any]]) -> None:
    """After a restart: the attaches and detaches it cut short, undone. The server's record
    decides. An attachment the volume service holds for it but the record does not list is
    deleted: a move's second one of a listed volume as it is (unless the move waits for its
    confirm), one of another volume (an attach cut short) once taken from the guest; a volume
    the record lists is given to the guest again (a detach cut short before the volume
    service let it go), or dropped from the record if its attachment is gone (one cut short
    after)."""
    client = await h.remote.volume_as_service()
    if client is None:
        return
    for inst in instances:
        try:
            await _settle_one(h, client, inst)
        except errors.NotFound:
            continue  # deleted meanwhile
        except errors.OvercastError as exc:
            LOG.warning("could not settle the volumes of %s: %s", inst["uuid"], exc)


async def _drop(client: VolumeClient, attachment: dict[str, Any], uuid: str) -> None:
    LOG.info("deleting attachment %s of volume %s, made for a move of %s that did not happen",
             attachment["id"], attachment["volume_id"], uuid)  # fmt: skip
    try:
        await client.delete_attachment(attachment["id"])
    except errors.NotFound:
        pass  # the move's other host dropped it


async def release_moved(h: Host, uuid: str) -> None:
    """A move of the server that has ended without this host (its guest here destroyed): the
    attachments it made here, listed nowhere, go (whichever of the move's hosts finds them
    first deletes them: `settle` on the other)."""
    client = await h.remote.volume_as_service()
    inst = await h.conductor.call("get_instance", ADMIN_CTX, uuid=uuid)
    if client is None or inst is None:
        return
    record = list(inst.get("attachments") or [])
    for attachment in volumes.of_a_move(record, await client.instance_attachments(uuid)):
        await _drop(client, attachment, uuid)


async def _settle_one(h: Host, client: VolumeClient, inst: dict[str, Any]) -> None:
    uuid, record = inst["uuid"], list(inst.get("attachments") or [])
    found = await client.instance_attachments(uuid)
    moved = volumes.of_a_move(record, found)
    if inst.get("vm_state") != states.RESIZED:  # a resize waiting for its confirm keeps them
        for attachment in moved:
            await _drop(client, attachment, uuid)
    listed = {a.get("attachment_id") for a in record}
    for attachment in [a for a in found if a["id"] not in listed and a not in moved]:
        LOG.info("undoing the attach of volume %s to %s, cut short by a restart",
                 attachment["volume_id"], uuid)  # fmt: skip
        if attachment.get("connection_info"):
            await h.driver.detach_volume(uuid, attachment["connection_info"])
        await client.delete_attachment(attachment["id"])
    held = {a["id"] for a in found}
    kept = [a for a in record if not a.get("attachment_id") or a["attachment_id"] in held]
    for item in kept:
        if item.get("connection_info") and item.get("boot_index") is None:
            await h.driver.attach_volume(uuid, item["connection_info"], item["device_name"])
    for item in [a for a in record if a not in kept]:
        LOG.info("finishing the detach of volume %s from %s, cut short by a restart",
                 item["volume_id"], uuid)  # fmt: skip
        await h.driver.detach_volume(uuid, item.get("connection_info") or {})
    if kept != record:
        await h.update(ADMIN_CTX, uuid, {"attachments": kept})


class Volumes:
    def __init__(self, h: Host) -> None:
        self.h = h

    async def attach_volume(
        self,
        ctx: dict[str, Any],
        instance_uuid: str,
        volume_id: str,
        attachment_id: str,
        device: str,
        tag: str | None = None,
        delete_on_termination: bool = False,
    ) -> dict[str, Any]:
        h = self.h
        client = h.remote.volume(ctx)
        if client is None:
            raise errors.ServiceUnavailable("There is no volume service.")
        await h.volumes_settled.wait()
        instance = await h.conductor.call("get_instance", ctx, uuid=instance_uuid)
        if instance is None:
            raise errors.NotFound(f"Instance {instance_uuid} could not be found.")
        attachment = await client.update_attachment(
            attachment_id, volumes.connector(h.host, device)
        )
        info = attachment.get("connection_info") or {}
        await h.driver.attach_volume(instance_uuid, info, device)
        try:
            await client.complete_attachment(attachment_id)
            item = {
                "volume_id": volume_id,
                "attachment_id": attachment_id,
                "boot_index": None,
                "device_name": device,
                "tag": tag,
                "delete_on_termination": delete_on_termination,
                "connection_info": info,
            }
            current = await h.conductor.call("get_instance", ctx, uuid=instance_uuid)
            attached = [*((current or {}).get("attachments") or []), item]
            await h.update(ctx, instance_uuid, {"attachments": attached})
        except Exception:
            await h.driver.detach_volume(instance_uuid, info)
            raise
        return item

    async def detach_volume(self, ctx: dict[str, Any], instance_uuid: str, volume_id: str) -> None:
        h = self.h
        await h.volumes_settled.wait()
        instance = await h.conductor.call("get_instance", ctx, uuid=instance_uuid)
        if instance is None:
            raise errors.NotFound(f"Instance {instance_uuid} could not be found.")
        found = [a for a in instance.get("attachments") or [] if a["volume_id"] == volume_id]
        if not found:
            raise errors.NotFound(f"Volume {volume_id} is not attached to {instance_uuid}.")
        await h.driver.detach_volume(instance_uuid, found[0].get("connection_info") or {})
        await volumes.detach_all(h.remote, ctx, [{**found[0], "delete_on_termination": False}])
        current = await h.conductor.call("get_instance", ctx, uuid=instance_uuid)
        left = [a for a in (current or {}).get("attachments") or [] if a["volume_id"] != volume_id]
        await h.update(ctx, instance_uuid, {"attachments": left})

    async def volume_extended(
        self, ctx: dict[str, Any], instance_uuid: str, volume_id: str
    ) -> None:
        """Nova's answer to `volume-extended`: the driver resizes the guest's disk to the
        volume's new size; an extend that waits for compute (still `extending`: the
        hypervisor grows the data) hears how it ended (`os-extend_volume_completion`)."""
        h = self.h
        client = h.remote.volume(ctx)
        instance = await h.conductor.call("get_instance", ctx, uuid=instance_uuid)
        found = [a for a in (instance or {}).get("attachments") or []
                 if a["volume_id"] == volume_id]  # fmt: skip
        if client is None or not found:
            LOG.warning("volume-extended for %s, not attached to %s", volume_id, instance_uuid)
            return
        volume = await client.get_volume(volume_id)
        waiting = volume.get("status") == "extending"
        try:
            await h.driver.extend_volume(
                instance_uuid, found[0].get("connection_info") or {}, int(volume["size"]) << 30
            )
        except Exception as exc:  # noqa: BLE001 - every failure is reported the same way
            LOG.warning("extend of volume %s in %s failed: %s", volume_id, instance_uuid, exc)
            if waiting:
                await client.extend_volume_completion(volume_id, error=True)
            return
        if waiting:
            await client.extend_volume_completion(volume_id, error=False)

    async def swap_volume(
        self,
        ctx: dict[str, Any],
        instance_uuid: str,
        old_volume_id: str,
        new_volume_id: str,
        new_attachment_id: str,
    ) -> None:
        """Nova's swap_volume on the host: connect the new volume, let the driver move the
        guest's disk onto it, and tell the volume service how it ended (which, for a
        migration, keeps the old volume's id for the new data). A failure leaves the guest
        on the old volume and the new attachment gone."""
        h = self.h
        client = h.remote.volume(ctx)
        if client is None:
            raise errors.ServiceUnavailable("There is no volume service.")
        await h.volumes_settled.wait()
        event = "compute_swap_volume"
        await h.conductor.call("event_start", ctx, uuid=instance_uuid, event=event, host=h.host)
        instance = await h.instance(ctx, instance_uuid)
        item = next(a for a in instance.get("attachments") or [] if a["volume_id"] == old_volume_id)
        device = str(item.get("device_name"))
        try:
            attachment = await client.update_attachment(
                new_attachment_id, volumes.connector(h.host, device)
            )
            info = attachment.get("connection_info") or {}
            await h.driver.swap_volume(
                instance_uuid, item.get("connection_info") or {}, info, device
            )
            await client.complete_attachment(new_attachment_id)
        except Exception as exc:  # noqa: BLE001 - every failure is reported the same way
            LOG.warning("swap of volume %s on %s failed: %s", old_volume_id, instance_uuid, exc)
            for undo in (
                client.delete_attachment(new_attachment_id),
                client.roll_detaching(old_volume_id),
                client.migrate_volume_completion(old_volume_id, new_volume_id, error=True),
            ):
                try:
                    await undo
                except errors.OvercastError as why:
                    LOG.warning("undoing the swap of %s: %s", old_volume_id, why)
            await h.update(ctx, instance_uuid, {}, event=failed_event(event, exc, h.host))
            return
        kept = await client.migrate_volume_completion(old_volume_id, new_volume_id, error=False)
        current = await h.instance(ctx, instance_uuid)
        swapped = {
            **item,
            "volume_id": kept,
            "attachment_id": new_attachment_id,
            "connection_info": info,
        }
        attached = [
            swapped if a["volume_id"] == old_volume_id else a
            for a in current.get("attachments") or []
        ]
        await h.update(
            ctx, instance_uuid, {"attachments": attached}, event={"event": event, "host": h.host}
        )
        try:  # a migration's completion dropped it already
            await client.delete_attachment(item["attachment_id"])
        except errors.NotFound:
            pass
