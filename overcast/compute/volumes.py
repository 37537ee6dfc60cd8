"""Volumes for an instance's block device mapping, through the block storage REST API.

`attach_all` creates the volumes the mapping asks for (from an image, a snapshot, or blank),
attaches every volume to the instance and returns what the driver needs; `detach_all` undoes
it, deleting the volumes marked `delete_on_termination` (a volume the volume service will not
delete, one with snapshots say, is left behind and logged, as Nova does).
"""

from __future__ import annotations

import asyncio
from typing import Any

from overcast.common import errors, log
from overcast.compute.remote import Remote

LOG = log.get(__name__)

_WAIT = 120.0


def connector(host: str, device: str | None = None) -> dict[str, Any]:
    """What this compute host tells the volume service about itself (os-brick's connector),
    with the device the volume becomes in the guest."""
    found = {
        "host": host,
        "initiator": f"overcast:{host}",
        "platform": "x86_64",
        "os_type": "linux",
    }
    if device:
        found["mountpoint"] = device
    return found


def device_name(index: int) -> str:
    """`/dev/vda`, `/dev/vdb`, ... for the `index`-th disk of a server."""
    return f"/dev/vd{chr(ord('a') + index)}"


def next_device(attachments: list[dict[str, Any]], image_root: bool) -> str:
    """The first free device name of a server with these volumes (`/dev/vda` is taken by an
    image-backed server's root disk)."""
    used = {a.get("device_name") for a in attachments}
    if image_root:
        used.add(device_name(0))
    index = 0
    while device_name(index) in used:
        index += 1
    return device_name(index)


async def connect_pending(
    remote: Remote, ctx: dict[str, Any], host: str, instance: dict[str, Any]
) -> list[dict[str, Any]]:
    """The server's volumes with those attached while it was shelved-offloaded (reserved with
    no host, so without connection info or device) connected to `host`."""
    attached = list(instance.get("attachments") or [])
    client = remote.volume(ctx)
    for i, item in enumerate(attached):
        if item.get("connection_info") or client is None:
            continue
        device = item.get("device_name") or next_device(attached, bool(instance.get("image_ref")))
        found = await client.update_attachment(item["attachment_id"], connector(host, device))
        await client.complete_attachment(item["attachment_id"])
        attached[i] = {
            **item,
            "device_name": device,
            "connection_info": found.get("connection_info") or {},
        }
    return attached


async def connect_for_move(
    remote: Remote, ctx: dict[str, Any], host: str, instance: dict[str, Any]
) -> list[dict[str, Any]]:
    """A move's destination `host`: each of the server's volumes connected there as well, by
    an attachment of its own (a server may hold a second attachment of its volume while it
    moves, as Cinder allows); the source's stays until the guest has moved (a live migration)
    or the move is confirmed (a resize or cold migration, which a revert may undo). The
    server's attachment items as they are once it has. On failure none is left made."""
    attached = list(instance.get("attachments") or [])
    client = remote.volume(ctx)
    if client is None:
        return attached
    moved: list[dict[str, Any]] = []
    try:
        for item in attached:
            if not item.get("connection_info"):
                moved.append(item)
                continue
            where = connector(host, item.get("device_name"))
            found = await client.create_attachment(item["volume_id"], instance["uuid"], where)
            info = found.get("connection_info") or {}
            moved.append({**item, "attachment_id": found["id"], "connection_info": info})
    except BaseException:
        await release(remote, ctx, added(attached, moved))
        raise
    return moved


def root(attachments: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The attachment item of a volume-backed server's root volume: boot index 0 (or, from
    a mapping that gave none, its first disk)."""
    for item in attachments:
        if str(item.get("boot_index")) == "0":
            return item
    return next((a for a in attachments if a.get("device_name") == device_name(0)), None)


def added(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attachment items of `new` that `old` does not hold."""
    held = {a.get("attachment_id") for a in old}
    return [a for a in new if a.get("attachment_id") not in held]


async def release(remote: Remote, ctx: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """Delete these attachments (the volume service terminates their hosts' connections); one
    gone already is fine, one that cannot go is logged and left."""
    client = remote.volume(ctx)
    for item in items:
        if client is None or not item.get("attachment_id"):
            continue
        try:
            await client.delete_attachment(item["attachment_id"])
        except errors.NotFound:
            continue
        except errors.OvercastError as exc:
            LOG.warning("attachment %s of volume %s left behind: %s", item["attachment_id"],
                        item.get("volume_id"), exc)  # fmt: skip


async def complete(remote: Remote, ctx: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """These attachments (a move's new ones: the guest uses them now) completed."""
    client = remote.volume(ctx)
    for item in items:
        if client is None or not item.get("attachment_id"):
            continue
        try:
            await client.complete_attachment(item["attachment_id"])
        except errors.OvercastError as exc:  # the guest uses it all the same
            LOG.warning("attachment %s of volume %s not completed: %s", item["attachment_id"],
                        item.get("volume_id"), exc)  # fmt: skip


async def hand_over(
    remote: Remote, ctx: dict[str, Any], old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> None:
    """A live migration done: the destination's attachments complete, the source's go (its
    connections terminated: an NBD export it used stops unless another host uses it)."""
    await complete(remote, ctx, added(old, new))
    await release(remote, ctx, added(new, old))


async def left_behind(
    remote: Remote, ctx: dict[str, Any], instance: dict[str, Any]
) -> list[dict[str, Any]]:
    """The server's attachments on the other host of a move (resize or cold migration waiting
    for its confirm: the source's while the record lists the destination's): those the volume
    service holds for it that its record does not list, of volumes it does. As items of the
    record, each where the record has its volume."""
    client = remote.volume(ctx)
    if client is None:
        return []
    record = list(instance.get("attachments") or [])
    by_volume = {a.get("volume_id"): a for a in record}
    found = of_a_move(record, await client.instance_attachments(instance["uuid"]))
    return [{**by_volume[a["volume_id"]], "attachment_id": a["id"],
             "connection_info": a.get("connection_info") or {}} for a in found]  # fmt: skip


def of_a_move(record: list[dict[str, Any]], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of `found` (the volume service's attachments of one server), those its `record` does
    not list, of volumes it does: the ones a move made on its other host (`connect_for_move`),
    which the guest is not using."""
    volumes = {a.get("volume_id") for a in record}
    listed = {a.get("attachment_id") for a in record}
    return [a for a in found if a["id"] not in listed and a["volume_id"] in volumes]


def uses_volumes(bdms: list[dict[str, Any]]) -> bool:
    return any(b.get("destination_type") == "volume" for b in bdms)


async def _wait_available(client: Any, volume_id: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + _WAIT
    while True:
        volume: dict[str, Any] = await client.get_volume(volume_id)
        if volume["status"] == "available":
            return volume
        if volume["status"] == "error" or asyncio.get_running_loop().time() > deadline:
            raise errors.ServiceUnavailable(f"Volume {volume_id} did not become available.")
        await asyncio.sleep(0.2)


async def attach_all(
    remote: Remote, ctx: dict[str, Any], instance: dict[str, Any], host: str
) -> list[dict[str, Any]]:
    bdms = instance.get("block_device_mapping") or []
    if not uses_volumes(bdms):
        return []
    client = remote.volume(ctx)
    if client is None:
        raise errors.ServiceUnavailable("Volumes were requested but there is no volume service.")
    attached: list[dict[str, Any]] = []
    try:
        for bdm in bdms:
            if bdm.get("destination_type") != "volume":
                continue
            volume_id = bdm.get("volume_id") if bdm.get("source_type") == "volume" else None
            if volume_id is None:
                fields: dict[str, Any] = {"name": f"{instance['display_name']}-vol"}
                if bdm.get("source_type") == "image":
                    fields["imageRef"] = bdm.get("uuid")
                elif bdm.get("source_type") == "snapshot":
                    fields["snapshot_id"] = bdm.get("uuid")
                if bdm.get("volume_type"):
                    fields["volume_type"] = bdm["volume_type"]
                created = await client.create_volume(int(bdm.get("volume_size") or 1), **fields)
                volume_id = created["id"]
                await _wait_available(client, volume_id)
            device = bdm.get("device_name") or device_name(len(attached))
            attachment = await client.create_attachment(
                volume_id, instance["uuid"], connector(host, device)
            )
            attached.append(
                {
                    "volume_id": volume_id,
                    "attachment_id": attachment["id"],
                    "boot_index": bdm.get("boot_index"),
                    "device_name": device,
                    "tag": bdm.get("tag"),
                    "delete_on_termination": bool(bdm.get("delete_on_termination")),
                    "connection_info": attachment.get("connection_info") or {},
                }
            )
            await client.complete_attachment(attachment["id"])
    except BaseException:
        await detach_all(remote, ctx, attached)
        raise
    return attached


async def detach_all(remote: Remote, ctx: dict[str, Any], attached: list[dict[str, Any]]) -> None:
    client = remote.volume(ctx)
    if client is None:
        return
    for item in attached:
        try:
            await client.delete_attachment(item["attachment_id"])
            if item.get("delete_on_termination"):
                await client.delete_volume(item["volume_id"])
        except errors.NotFound:
            continue
        except (errors.BadRequest, errors.Conflict) as exc:
            LOG.warning(
                "volume left behind",
                extra={"fields": {"volume": item["volume_id"], "error": str(exc)}},
            )
