"""Remote console URLs: `POST /servers/{id}/remote-consoles` (from 2.6; `mks` from 2.8), the
legacy actions `os-getVNCConsole`, `os-getSerialConsole`, `os-getSPICEConsole` and
`os-getRDPConsole` (2.1 to 2.5), and `GET /os-console-auth-tokens/{token}` for admins (every
console type from 2.31, only RDP's before, as in Nova). `compute.consoles` does the work."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.compute import consoles, servers
from overcast.compute.api.deps import Req, base_url, json_body, req
from overcast.compute.api.server_actions import action
from overcast.compute.api.servers import _json

router = APIRouter(prefix="/v2.1")

_PROTOCOLS = ("vnc", "spice", "rdp", "serial")
_TYPES = ("novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial")
_LEGACY = {
    "os-getVNCConsole": ("vnc", ("novnc", "xvpvnc")),
    "os-getSPICEConsole": ("spice", ("spice-html5",)),
    "os-getRDPConsole": ("rdp", ("rdp-html5",)),
    "os-getSerialConsole": ("serial", ("serial",)),
}


def _one_of(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise errors.BadRequest(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            f"{value!r} is not one of {list(allowed)}"
        )
    return value


def _remote_console(r: Req, body: dict[str, Any]) -> tuple[str, str]:
    extra = sorted(set(body) - {"remote_console"})
    if extra or not isinstance(body.get("remote_console"), dict):
        raise errors.BadRequest("Invalid input: 'remote_console' is a required object.")
    console: dict[str, Any] = body["remote_console"]
    unknown = sorted(set(console) - {"protocol", "type"})
    if unknown:
        raise errors.BadRequest(f"Additional properties are not allowed ({unknown[0]!r}).")
    mks = r.at_least("2.8")
    protocol = _one_of(console.get("protocol"), _PROTOCOLS + (("mks",) if mks else ()), "protocol")
    kind = _one_of(console.get("type"), _TYPES + (("webmks",) if mks else ()), "type")
    return protocol, kind


@router.post("/servers/{server_id}/remote-consoles")
async def create(server_id: str, request: Request, r: Req = Depends(req)) -> Response:
    r.served(since="2.6")
    body = await json_body(request)
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.enforce("os_compute_api:os-remote-consoles", {"project_id": inst.project_id})
    protocol, kind = _remote_console(r, body)
    url = await consoles.create(r.state, r.ctx, server_id, protocol, kind, base_url(request))
    return _json({"remote_console": {"protocol": protocol, "type": kind, "url": url}})


@action(*_LEGACY)
async def _legacy(r: Req, uuid: str, args: Any) -> Response:
    name = next(iter(await json_body(r.request)))
    r.served(removed_at="2.6")
    r.enforce("os_compute_api:os-remote-consoles", r.request.state.target)
    protocol, allowed = _LEGACY[name]
    if not isinstance(args, dict) or set(args) - {"type"}:
        raise errors.BadRequest(f"Invalid input for field/attribute {name}.")
    kind = _one_of(args.get("type"), allowed, "type")
    url = await consoles.create(r.state, r.ctx, uuid, protocol, kind, base_url(r.request))
    return _json({"console": {"type": kind, "url": url}})


@router.get("/os-console-auth-tokens/{token}")
async def show_token(token: str, r: Req = Depends(req)) -> Response:
    r.enforce("os_compute_api:os-console-auth-tokens")
    target = await consoles.show(r.state, token)
    if not r.at_least("2.31") and target.console_type != "rdp-html5":
        raise errors.BadRequest("The requested console type details are not accessible")
    return _json(
        {
            "console": {
                "instance_uuid": target.instance_uuid,
                "host": target.host or None,
                "port": target.port or None,
                "internal_access_path": target.path or None,
            }
        }
    )
