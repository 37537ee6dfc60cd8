"""POST /servers/{id}/action: one body key names the action; each is checked against its
policy and microversion here and carried out by `compute.server_actions`/`server_images`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.common.http import pagination
from overcast.compute import boot, hosts, security_groups, server_images, servers
from overcast.compute import server_actions as acts
from overcast.compute.api import inputs, schemas
from overcast.compute.api.deps import Req, action_body, json_body, req
from overcast.compute.api.servers import _json, changed_body

router = APIRouter(prefix="/v2.1")

Handler = Callable[[Req, str, Any], Awaitable[Response]]
_HANDLERS: dict[str, Handler] = {}


def action(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            _HANDLERS[name] = fn
        return fn

    return register


def _args(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {}


@router.post("/servers/{server_id}/action")
async def server_action(server_id: str, request: Request, r: Req = Depends(req)) -> Response:
    name, args = await action_body(request)
    handler = _HANDLERS.get(name)
    if handler is None:
        raise errors.BadRequest(f"There is no such action: {name}")
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.request.state.target = {"project_id": inst.project_id, "user_id": inst.user_id}
    return await handler(r, server_id, args)


def _enforce(r: Req, rule: str) -> None:
    r.enforce(rule, r.request.state.target)


def _accepted() -> Response:
    return Response(status_code=202)


_POWER_RULES = {
    "os-stop": "servers:stop",
    "os-start": "servers:start",
    "pause": "os-pause-server:pause",
    "unpause": "os-pause-server:unpause",
    "suspend": "os-suspend-server:suspend",
    "resume": "os-suspend-server:resume",
    "unrescue": "os-unrescue",
}


def _power(name: str) -> Handler:
    async def handle(r: Req, uuid: str, args: Any) -> Response:
        _enforce(r, f"os_compute_api:{_POWER_RULES[name]}")
        await acts.power(r.state, r.ctx, uuid, name)
        return _accepted()

    return handle


for _name in _POWER_RULES:
    action(_name)(_power(_name))


@action("reboot")
async def _reboot(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:servers:reboot")
    kind = _args(args).get("type")
    if not isinstance(kind, str):
        raise errors.BadRequest("Missing argument 'type' for reboot")
    await acts.reboot(r.state, r.ctx, uuid, kind)
    return _accepted()


@action("trigger_crash_dump")
async def _crash_dump(r: Req, uuid: str, args: Any) -> Response:
    if not r.at_least("2.17"):
        raise errors.BadRequest("There is no such action: trigger_crash_dump")
    _enforce(r, "os_compute_api:servers:trigger_crash_dump")
    await acts.trigger_crash_dump(r.state, r.ctx, uuid)
    return _accepted()


@action("rescue")
async def _rescue(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-rescue")
    a = _args(args)
    image_ref = a.get("rescue_image_ref")
    password = schemas.password(a.get("adminPass")) or boot.new_password()
    await acts.rescue(r.state, r.ctx, uuid, image_ref)
    return _json({"adminPass": password})


@action("lock")
async def _lock(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-lock-server:lock")
    reason = _args(args).get("locked_reason")
    if reason is not None and not r.at_least("2.73"):
        raise errors.BadRequest("Additional properties are not allowed ('locked_reason')")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
        raise schemas.bad("locked_reason", "must be a string of at most 255 characters")
    await acts.lock(r.state, r.ctx, uuid, reason)
    return _accepted()


@action("unlock")
async def _unlock(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-lock-server:unlock")
    override = r.allowed(
        "os_compute_api:os-lock-server:unlock:unlock_override", r.request.state.target
    )
    await acts.unlock(r.state, r.ctx, uuid, override)
    return _accepted()


@action("os-resetState")
async def _reset(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-admin-actions:reset_state")
    await acts.reset_state(r.state, r.ctx, uuid, str(_args(args).get("state")))
    return _accepted()


@action("injectNetworkInfo")
async def _inject_network_info(r: Req, uuid: str, args: Any) -> Response:
    """Nova's admin action, a no-op for guests that take their network from DHCP and the
    metadata service (as with Nova's libvirt driver on Neutron): the server must exist."""
    _enforce(r, "os_compute_api:os-admin-actions:inject_network_info")
    return _accepted()


@action("forceDelete")
async def _force_delete(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-deferred-delete:force")
    await servers.delete(r.state, r.ctx, uuid, action="forceDelete")
    return _accepted()


@action("restore")
async def _restore(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-deferred-delete:restore")
    raise errors.Conflict(
        f"Instance {uuid} is not soft-deleted (deleted servers are reclaimed at once)."
    )


@action("resize")
async def _resize(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:servers:resize")
    flavor = _args(args).get("flavorRef")
    if not flavor:
        raise errors.BadRequest("Resize requests require 'flavorRef' attribute.")
    disk_config = _disk_config(args)
    sysmeta = {"disk_config": disk_config} if disk_config else {}
    await acts.resize(r.state, r.ctx, uuid, str(flavor), sysmeta)
    return _accepted()


def _disk_config(args: Any) -> str | None:
    """`OS-DCF:diskConfig` of a resize or rebuild, checked before anything is done."""
    value = _args(args).get("OS-DCF:diskConfig")
    if value is not None and value not in ("AUTO", "MANUAL"):
        raise errors.BadRequest("Invalid input for field/attribute OS-DCF:diskConfig.")
    return value


async def _save_disk_config(r: Req, uuid: str, value: str | None) -> None:
    if value is None:
        return
    async with r.state.db.session() as session:
        inst = await servers.get(session, r.ctx, uuid)
        inst.system_metadata = {**(inst.system_metadata or {}), "disk_config": value}


@action("confirmResize")
async def _confirm(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:servers:confirm_resize")
    await acts.confirm_resize(r.state, r.ctx, uuid)
    return Response(status_code=204)


@action("revertResize")
async def _revert(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:servers:revert_resize")
    await acts.revert_resize(r.state, r.ctx, uuid)
    return _accepted()


@action("migrate")
async def _migrate(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-migrate-server:migrate")
    host = _args(args).get("host")
    if host is not None and not r.at_least("2.56"):
        raise errors.BadRequest("Additional properties are not allowed ('host' was unexpected)")
    await _check_target(r, uuid, host)
    await acts.migrate(r.state, r.ctx, uuid, host)
    return _accepted()


@action("os-migrateLive")
async def _live(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-migrate-server:migrate_live")
    a = _args(args)
    if "block_migration" not in a:
        raise errors.BadRequest(
            "Invalid input for field/attribute os-migrateLive. "
            "'block_migration' is a required property"
        )
    if a.get("block_migration") == "auto" and not r.at_least("2.25"):
        raise errors.BadRequest("block_migration 'auto' needs microversion 2.25")
    if "force" in a and (not r.at_least("2.30") or r.at_least("2.68")):
        raise errors.BadRequest("Additional properties are not allowed ('force' was unexpected)")
    await _check_target(r, uuid, a.get("host"))
    await acts.live_migrate(r.state, r.ctx, uuid, a.get("host"))
    return _accepted()


async def _check_target(r: Req, uuid: str, host: Any) -> None:
    """A move to a named host: the host must run compute and not be the server's own (400,
    as Nova answers before anything moves)."""
    if host is None:
        return
    if not isinstance(host, str) or not host:
        raise schemas.bad("host", f"Value: {host}. is not a valid host name")
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, uuid)
        try:
            await hosts.compute_service(session, host)
        except errors.NotFound as exc:
            raise errors.BadRequest(exc.message) from exc
    if inst.host == host:
        raise errors.BadRequest(f"Unable to migrate instance ({uuid}) to current host ({host}).")


@action("evacuate")
async def _evacuate(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-evacuate")
    a = _args(args)
    if "onSharedStorage" in a and r.at_least("2.14"):
        raise errors.BadRequest("Additional properties are not allowed ('onSharedStorage')")
    if "force" in a and (not r.at_least("2.29") or r.at_least("2.68")):
        raise errors.BadRequest("Additional properties are not allowed ('force' was unexpected)")
    password = schemas.password(a.get("adminPass")) or boot.new_password()
    await acts.evacuate(r.state, r.ctx, uuid, a.get("host"), r.at_least("2.95"), password)
    if r.at_least("2.14"):
        return Response(status_code=200)
    return _json({"adminPass": password})


@action("addSecurityGroup", "removeSecurityGroup")
async def _security_group(r: Req, uuid: str, args: Any) -> Response:
    add = "addSecurityGroup" in (await json_body(r.request))
    _enforce(r, f"os_compute_api:os-security-groups:{'add' if add else 'remove'}")
    await security_groups.change(r.state, r.ctx, uuid, _args(args).get("name"), add)
    return _accepted()


@action("os-getConsoleOutput")
async def _console(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-console-output")
    length = _args(args).get("length")
    if length is not None:
        try:
            length = int(length)
        except (TypeError, ValueError) as exc:
            raise errors.BadRequest("Invalid input for field/attribute length.") from exc
        if length < -1:
            raise errors.BadRequest("Invalid input for field/attribute length.")
        length = None if length == -1 else length
    output = await acts.console_output(r.state, r.ctx, uuid, length)
    return _json({"output": output})


@action("rebuild")
async def _rebuild(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:servers:rebuild")
    a = _args(args)
    image_ref = str(a.get("imageRef") or "").rstrip("/").rsplit("/", 1)[-1]
    if not schemas.is_uuid(image_ref):
        raise errors.BadRequest("Invalid imageRef provided.")
    changes: dict[str, Any] = {}
    if "name" in a:
        changes["display_name"] = schemas.name(a["name"])
    if "metadata" in a:
        changes["metadata"] = schemas.metadata(a["metadata"])
    if "description" in a and r.at_least("2.19"):
        changes["display_description"] = a["description"]
    if "user_data" in a and r.at_least("2.57"):
        changes["user_data"] = a["user_data"]
    if "hostname" in a and r.at_least("2.90"):
        changes["hostname"] = a["hostname"]
    for version, column in ((4, "access_ip_v4"), (6, "access_ip_v6")):
        if f"accessIPv{version}" in a:
            changes[column] = schemas.access_ip(a[f"accessIPv{version}"], version)
    if "key_name" in a and r.at_least("2.54"):
        changes.update(await _key(r, a["key_name"]))
    password = schemas.password(a.get("adminPass")) or boot.new_password()
    disk_config = _disk_config(args)
    await server_images.rebuild(
        r.state, r.ctx, uuid, image_ref, changes, password, reimage_boot_volume=r.at_least("2.93")
    )
    await _save_disk_config(r, uuid, disk_config)
    body = await changed_body(r, uuid, rebuild=True)
    body["adminPass"] = password
    return _json({"server": body}, 202)


async def _key(r: Req, key_name: str | None) -> dict[str, Any]:
    if key_name is None:
        return {"key_name": None, "key_data": None}
    from overcast.compute import keypairs

    async with r.state.db.reader() as session:
        key = await keypairs.get_keypair(session, r.ctx.user_id or "", key_name)
    return {"key_name": key.name, "key_data": key.public_key}


@action("createImage")
async def _create_image(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:servers:create_image")
    a = _args(args)
    name = schemas.name(a.get("name"))
    metadata = schemas.metadata(a.get("metadata") or {})
    image_id = await server_images.create_image(r.state, r.ctx, uuid, name, metadata)
    return _image_created(r, image_id)


def _image_created(r: Req, image_id: str | None) -> Response:
    if image_id is None:
        return _accepted()
    if r.at_least("2.45"):
        return _json({"image_id": image_id}, 202)
    return Response(status_code=202, headers={"Location": r.bookmark(f"/images/{image_id}")})


@action("createBackup")
async def _create_backup(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-create-backup")
    if not isinstance(args, dict):
        raise errors.BadRequest("Invalid input for field/attribute createBackup.")
    unknown = sorted(set(args) - {"name", "backup_type", "rotation", "metadata"})
    if unknown:
        raise errors.BadRequest(f"Additional properties are not allowed ({unknown[0]!r})")
    for key in ("name", "backup_type", "rotation"):
        if key not in args:
            raise errors.BadRequest(
                f"Invalid input for field/attribute createBackup. '{key}' is a required property"
            )
    name = schemas.name(args["name"])
    kind = args["backup_type"]
    if not isinstance(kind, str) or not kind:
        raise schemas.bad("backup_type", f"Value: {kind}. is not a string")
    rotation = inputs.integer(args["rotation"], "rotation", minimum=0, maximum=pagination.MAX_INT)
    metadata = schemas.metadata(args.get("metadata") or {})
    image_id = await server_images.create_image(
        r.state, r.ctx, uuid, name, metadata, backup=(kind, rotation)
    )
    return _image_created(r, image_id)


@action("shelve")
async def _shelve(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-shelve:shelve")
    await server_images.shelve(r.state, r.ctx, uuid)
    return _accepted()


@action("shelveOffload")
async def _shelve_offload(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-shelve:shelve_offload")
    raise errors.Conflict(
        f"Cannot 'shelveOffload' instance {uuid}: shelved servers are offloaded at once."
    )


@action("unshelve")
async def _unshelve(r: Req, uuid: str, args: Any) -> Response:
    _enforce(r, "os_compute_api:os-shelve:unshelve")
    a = _args(args)
    if a and not r.at_least("2.77"):
        raise errors.BadRequest("Invalid input for field/attribute unshelve.")
    host = a.get("host")
    if host is not None:
        if not r.at_least("2.91"):
            raise errors.BadRequest("Additional properties are not allowed ('host' was unexpected)")
        _enforce(r, "os_compute_api:os-shelve:unshelve_to_host")
    await server_images.unshelve(r.state, r.ctx, uuid, a.get("availability_zone"), host)
    return _accepted()
