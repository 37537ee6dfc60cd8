"""Every action the compute API has on a server, as forms on the instance page: each form
names its action, `_body` turns the form into the API's request, and the API's refusal comes
back to the page in words (nothing half done: one request per action)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from overcast.common import errors
from overcast.dashboard import web


@dataclass(frozen=True)
class Form:
    action: str  # the server action's key, or one of the REST verbs below
    label: str
    # (name, label, input type): an input's type, "hidden:VALUE", or "select:CHOICES" (the
    # options the instance page read for it: volumes, attached, networks, ports)
    fields: tuple[tuple[str, str, str], ...] = ()
    danger: bool = False


FORMS = (
    Form("os-start", "Start"),
    Form("os-stop", "Stop"),
    Form("reboot", "Soft reboot", (("type", "", "hidden:SOFT"),)),
    Form("reboot", "Hard reboot", (("type", "", "hidden:HARD"),)),
    Form("pause", "Pause"),
    Form("unpause", "Unpause"),
    Form("suspend", "Suspend"),
    Form("resume", "Resume"),
    Form("lock", "Lock", (("locked_reason", "Reason", "text"),)),
    Form("unlock", "Unlock"),
    Form("shelve", "Shelve"),
    Form("shelveOffload", "Shelve offload"),
    Form("unshelve", "Unshelve"),
    Form("rescue", "Rescue"),
    Form("unrescue", "Unrescue"),
    Form("resize", "Resize", (("flavorRef", "Flavor id", "text"),)),
    Form("confirmResize", "Confirm resize"),
    Form("revertResize", "Revert resize"),
    Form("rebuild", "Rebuild", (("imageRef", "Image id", "text"),)),
    Form("createImage", "Create snapshot", (("name", "Snapshot name", "text"),)),
    Form(
        "createBackup",
        "Create backup",
        (("name", "Name", "text"), ("backup_type", "Type", "text"), ("rotation", "Keep", "number")),
    ),
    Form("changePassword", "Change password", (("adminPass", "New password", "password"),)),
    Form("addSecurityGroup", "Add security group", (("name", "Group name", "text"),)),
    Form("removeSecurityGroup", "Remove security group", (("name", "Group name", "text"),)),
    Form("trigger_crash_dump", "Trigger crash dump"),
    Form("restore", "Restore (soft-deleted)"),
    Form("rename", "Rename", (("name", "New name", "text"),)),
    Form("attach_volume", "Attach volume", (("volumeId", "Volume", "select:volumes"),)),
    Form("detach_volume", "Detach volume", (("volumeId", "Volume", "select:attached"),)),
    Form("attach_interface", "Attach interface", (("net_id", "Network", "select:networks"),)),
    Form("detach_interface", "Detach interface", (("port_id", "Port", "select:ports"),)),
    Form("delete", "Delete", danger=True),
    Form("forceDelete", "Force delete", danger=True),
)
ADMIN_FORMS = (
    Form("migrate", "Cold migrate"),
    Form("os-migrateLive", "Live migrate"),
    Form("evacuate", "Evacuate"),
    Form("os-resetState", "Reset state to error", (("state", "", "hidden:error"),)),
    Form("os-resetState", "Reset state to active", (("state", "", "hidden:active"),)),
)
_ALL = (*FORMS, *ADMIN_FORMS)
_INTS = {"rotation"}


def _args(p: web.Page, form: Form) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for name, _label, kind in form.fields:
        value = p.field(name)
        if value == "" and not kind.startswith("hidden"):
            continue
        args[name] = int(value) if name in _INTS and value.lstrip("-").isdigit() else value
    return args


async def _rest(p: web.Page, server_id: str, action: str, args: dict[str, Any]) -> bool:
    """The actions that are not `/action` bodies; False when `action` is not one."""
    path = f"/servers/{server_id}"
    if action == "delete":
        await p.cloud.delete("compute", path)
    elif action == "rename":
        await p.cloud.put("compute", path, {"server": {"name": args.get("name", "")}})
    elif action == "attach_volume":
        body = {"volumeAttachment": {"volumeId": args.get("volumeId", "")}}
        await p.cloud.post("compute", f"{path}/os-volume_attachments", body)
    elif action == "detach_volume":
        await p.cloud.delete("compute", f"{path}/os-volume_attachments/{args.get('volumeId')}")
    elif action == "attach_interface":
        body = {"interfaceAttachment": {"net_id": args.get("net_id", "")}}
        await p.cloud.post("compute", f"{path}/os-interface", body)
    elif action == "detach_interface":
        await p.cloud.delete("compute", f"{path}/os-interface/{args.get('port_id')}")
    else:
        return False
    return True


def _body(action: str, args: dict[str, Any]) -> dict[str, Any]:
    if action == "os-migrateLive":
        return {action: {"host": None, "block_migration": "auto"}}
    if action == "createBackup":
        return {action: {"backup_type": "daily", "rotation": 1, **args}}
    if action == "lock" and not args:
        return {action: None}
    takes_object = action in ("reboot", "resize", "rebuild", "createImage", "changePassword")
    takes_object |= action in ("addSecurityGroup", "removeSecurityGroup", "os-resetState")
    takes_object |= action in ("lock", "rescue", "evacuate", "unshelve")
    return {action: args if (args or takes_object) else None}


async def _act(p: web.Page) -> Response:
    server_id = p.request.path_params["server_id"]
    action = p.field("action")
    form = next(
        (
            f
            for f in _ALL
            if f.action == action
            and all(p.field(n) == k[7:] for n, _l, k in f.fields if k.startswith("hidden:"))
        ),
        None,
    )
    if form is None:
        return p.render("error.html", 400, message=f"Unknown action {action!r}.")
    args = _args(p, form)
    try:
        if not await _rest(p, server_id, action, args):
            await p.cloud.post("compute", f"/servers/{server_id}/action", _body(action, args))
    except (
        errors.BadRequest,
        errors.Conflict,
        errors.Forbidden,
        errors.NotFound,
        errors.NotSupported,
        errors.OverQuota,
    ) as exc:
        target = f"/project/instances/{server_id}"
        return p.redirect(target + "#actions", error=f"{form.label} failed: {web.message(exc)}")
    if action in ("delete", "forceDelete"):
        return p.redirect("/project/instances", f"{form.label}: requested.")
    return p.redirect(f"/project/instances/{server_id}", f"{form.label}: requested.")


routes = [Route("/project/instances/{server_id}/action", web.page(_act), methods=["POST"])]
