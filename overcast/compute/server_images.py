"""Server actions that involve the image service: rebuild (a new root disk from an image),
createImage (a snapshot uploaded to the image service), shelve and unshelve (a snapshot kept
while the server holds no host)."""

from __future__ import annotations

from typing import Any

from overcast.clients.image import properties
from overcast.common import errors, trace
from overcast.common.context import RequestContext
from overcast.compute import conductor, servers, states, volume_snapshots, volumes
from overcast.compute.models.instances import Instance
from overcast.compute.server_actions import begin, to_agent
from overcast.compute.state import ComputeState


async def _image(st: ComputeState, ctx: RequestContext, image_ref: str) -> dict[str, Any]:
    try:
        image = await st.remote.image(ctx.to_dict()).get(image_ref)
    except errors.NotFound as exc:
        raise errors.BadRequest(f"Image {image_ref} could not be found.") from exc
    if image.get("status") != "active":
        raise errors.BadRequest(f"Image {image_ref} is not active.")
    return image


async def rebuild(
    st: ComputeState,
    ctx: RequestContext,
    uuid: str,
    image_ref: str,
    changes: dict[str, Any],
    admin_password: str | None,
    reimage_boot_volume: bool = False,
) -> Instance:
    """Validate the new image against the flavor (a volume-backed server's: against its root
    volume) and start the rebuild on the server's host. A volume-backed server keeps its image
    below 2.93; from 2.93 (`reimage_boot_volume`) its root volume is re-imaged, as Nova's."""
    image = await _image(st, ctx, image_ref)
    async with st.db.reader() as session:
        inst = await servers.get(session, ctx, uuid)
    if int(image.get("min_ram") or 0) > int(inst.flavor.get("memory_mb", 0)):
        raise errors.BadRequest("Flavor's memory is too small for requested image.")
    values: dict[str, Any] = dict(changes)
    if inst.image_ref:
        if inst.flavor.get("root_gb") and int(image.get("min_disk") or 0) > int(
            inst.flavor["root_gb"]
        ):
            raise errors.BadRequest("Flavor's disk is too small for requested image.")
        values["image_ref"] = image_ref
    else:
        await _check_root_volume(st, ctx, inst, image, reimage_boot_volume)
    preserve = states.STOPPED if inst.vm_state == states.STOPPED else states.ACTIVE
    inst = await begin(
        st,
        ctx,
        uuid,
        "rebuild",
        "rebuild",
        (states.ACTIVE, states.STOPPED, states.ERROR),
        new_task=states.REBUILDING,
        values=values,
    )
    await to_agent(
        st,
        ctx,
        inst,
        "rebuild_instance",
        image_ref=image_ref,
        preserve_state=preserve,
        admin_password=admin_password,
        reimage_boot_volume=reimage_boot_volume and not inst.image_ref,
    )
    return inst


async def _check_root_volume(
    st: ComputeState,
    ctx: RequestContext,
    inst: Instance,
    image: dict[str, Any],
    reimage_boot_volume: bool,
) -> None:
    """A volume-backed server may be rebuilt from the image its root volume holds; with
    another image only from 2.93, on a root volume in use that is large enough for it."""
    root = volumes.root(list(inst.attachments or []))
    client = st.remote.volume(ctx.to_dict())
    if root is None or client is None:
        raise errors.BadRequest(f"Instance {inst.uuid} has no root volume to rebuild from.")
    volume = await client.get_volume(root["volume_id"])
    held = (volume.get("volume_image_metadata") or {}).get("image_id")
    if held != image["id"] and not reimage_boot_volume:
        raise errors.BadRequest(
            f"Image {image['id']} is unacceptable: Unable to rebuild with a different image"
            " for a volume-backed server."
        )
    if volume.get("status") != "in-use":
        raise errors.BadRequest(
            f"Invalid volume: volume {volume['id']} is {volume.get('status')}, not in-use."
        )
    size = int(volume.get("size") or 0)
    if reimage_boot_volume and (
        int(image.get("min_disk") or 0) > size or int(image.get("size") or 0) > size << 30
    ):
        raise errors.BadRequest(
            f"Image {image['id']} is unacceptable: the root volume ({size} GB) is smaller"
            " than the image needs."
        )


async def _snapshot_image(
    st: ComputeState,
    ctx: RequestContext,
    inst: Instance,
    name: str,
    metadata: dict[str, str],
    image_type: str,
) -> dict[str, Any]:
    client = st.remote.image(ctx.to_dict())
    base: dict[str, Any] = {}
    if inst.image_ref:
        try:
            base = await client.get(inst.image_ref)
        except errors.NotFound:
            base = {}
    inherited = {
        k: v
        for k, v in properties(base).items()
        if isinstance(v, str) and not k.startswith(("owner", "instance_", "image_"))
    }
    fields = {
        **inherited,
        "name": name,
        "container_format": base.get("container_format") or "bare",
        "disk_format": base.get("disk_format") or "raw",
        "visibility": "private",
        "instance_uuid": inst.uuid,
        "image_type": image_type,
        "user_id": ctx.user_id or "",
        "base_image_ref": inst.image_ref or "",
        "min_disk": int(inst.flavor.get("root_gb") or 0),
        "min_ram": int(base.get("min_ram") or 0),
        **metadata,
    }
    return await client.create(**fields)


async def create_image(
    st: ComputeState,
    ctx: RequestContext,
    uuid: str,
    name: str,
    metadata: dict[str, str],
    *,
    backup: tuple[str, int] | None = None,
) -> str | None:
    """Snapshot the server into a new image; with `backup` (its type and rotation), a backup
    image, after which only the newest `rotation` backups of that type are kept (none are
    made with rotation 0: the old ones are only removed). The new image's id."""
    action = "createImage" if backup is None else "createBackup"
    allowed = (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED)
    with trace.span("request validated"):
        async with st.db.reader() as session:
            inst = await servers.get(session, ctx, uuid)
        if inst.vm_state not in allowed or inst.task_state is not None:
            raise errors.Conflict(
                f"Cannot '{action}' instance {uuid} while it is in vm_state {inst.vm_state}"
            )
    if not inst.image_ref and backup is None:
        return str((await volume_snapshots.snapshot(st, ctx, inst, name, metadata))["id"])
    if not inst.image_ref:
        raise errors.BadRequest("Backups of volume-backed servers are not supported.")
    if backup is not None:
        metadata = {**metadata, "backup_type": backup[0]}
        if backup[1] == 0:
            await _rotate(st, ctx, uuid, backup[0], 0)
            return None
    with trace.span("image record made"):
        image = await _snapshot_image(
            st, ctx, inst, name, metadata, "backup" if backup else "snapshot"
        )
        trace.note(image=image["id"])
    try:
        inst = await begin(
            st,
            ctx,
            uuid,
            action,
            action,
            allowed,
            new_task=states.IMAGE_SNAPSHOT,
            lock_ok=True,
        )
    except errors.OvercastError:
        await st.remote.image(ctx.to_dict()).delete(image["id"])
        raise
    await to_agent(st, ctx, inst, "snapshot_instance", image_id=image["id"])
    if backup is not None:
        with trace.span("older backups rotated", backup_type=backup[0], rotation=backup[1]):
            await _rotate(st, ctx, uuid, backup[0], backup[1])
    return str(image["id"])


async def _rotate(st: ComputeState, ctx: RequestContext, uuid: str, kind: str, keep: int) -> None:
    """Delete the server's backups of type `kind` beyond the newest `keep`."""
    client = st.remote.image(ctx.to_dict())
    found = await client.list(
        instance_uuid=uuid, image_type="backup", backup_type=kind, sort="created_at:desc"
    )
    for image in found[keep:]:
        try:
            await client.delete(image["id"])
        except errors.NotFound:
            pass
    trace.note(deleted=len(found[keep:]))


async def shelve(st: ComputeState, ctx: RequestContext, uuid: str) -> None:
    allowed = (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED)
    async with st.db.reader() as session:
        inst = await servers.get(session, ctx, uuid)
    if inst.vm_state not in allowed or inst.task_state is not None:
        raise errors.Conflict(
            f"Cannot 'shelve' instance {uuid} while it is in vm_state {inst.vm_state}"
        )
    if not inst.image_ref:
        raise errors.BadRequest("Shelving volume-backed servers is not supported here.")
    image = await _snapshot_image(st, ctx, inst, f"{inst.display_name}-shelved", {}, "snapshot")
    sysmeta = {**inst.system_metadata, "shelved_image_id": image["id"]}
    inst = await begin(
        st,
        ctx,
        uuid,
        "shelve",
        "shelve",
        allowed,
        new_task=states.SHELVING,
        values={"system_metadata": sysmeta},
    )
    await to_agent(st, ctx, inst, "shelve_instance", image_id=image["id"])


async def unshelve(
    st: ComputeState, ctx: RequestContext, uuid: str, zone: str | None, host: str | None
) -> None:
    inst = await begin(
        st,
        ctx,
        uuid,
        "unshelve",
        "unshelve",
        (states.SHELVED, states.SHELVED_OFFLOADED),
        new_task=states.UNSHELVING,
    )
    spec = {
        **(inst.request_spec or {}),
        "instance_uuids": [uuid],
        "num_instances": 1,
        "flavor": inst.flavor,
        "retry": {"num_attempts": 1, "hosts": []},
        "project_id": inst.project_id,
        "user_id": inst.user_id,
        "ignore_hosts": [],
    }
    if zone:
        spec["availability_zone"] = zone
    if host:
        spec["requested_destination"] = {"host": host}
    await st.bus.cast(conductor.TOPIC, "unshelve", ctx.to_dict(), uuid=uuid, spec=spec)
