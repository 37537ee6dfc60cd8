"""POST /os-server-external-events: events other services send about servers (the network
service's `network-vif-plugged` and `network-vif-unplugged`), delivered to the server's host.

Each event answers its own code: 200 delivered, 404 no such server, 422 a server on no host;
the request answers 200 when all were delivered, 207 when some were, 404 when none was."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.responses import JSONResponse

from overcast.common import errors, log
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.models.instances import Instance

LOG = log.get(__name__)
router = APIRouter(prefix="/v2.1")

NAMES = (
    "network-changed",
    "network-vif-plugged",
    "network-vif-unplugged",
    "network-vif-deleted",
    "volume-extended",
    "power-update",
    "accelerator-request-bound",
    "volume-reimaged",
)


def _events(body: dict[str, Any]) -> list[dict[str, Any]]:
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise errors.BadRequest("Invalid input for field/attribute events.")
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("server_uuid"), str):
            raise errors.BadRequest("Invalid input for field/attribute events: server_uuid.")
        if event.get("name") not in NAMES:
            raise errors.BadRequest(f"Invalid input for field/attribute name: {event.get('name')}")
        if event.get("status", "completed") not in ("completed", "failed", "in-progress"):
            raise errors.BadRequest("Invalid input for field/attribute status.")
    return events


@router.post("/os-server-external-events")
async def create(request: Request, r: Req = Depends(req)) -> JSONResponse:
    r.enforce("os_compute_api:os-server-external-events:create", {})
    events = _events(await json_body(request))
    uuids = {e["server_uuid"] for e in events}
    async with r.state.db.reader() as session:
        rows = await session.execute(
            select(Instance.uuid, Instance.host).where(
                Instance.uuid.in_(uuids), Instance.deleted.is_(False)
            )
        )
        hosts = dict(rows.tuples().all())
    answered = []
    for event in events:
        out = {"status": "completed", **event}
        host = hosts.get(event["server_uuid"], "missing")
        if host == "missing":
            out["code"] = 404
        elif not host:
            out["code"] = 422
        else:
            out["code"] = 200
            try:
                await r.state.bus.cast(
                    f"compute.{host}",
                    "external_instance_event",
                    r.bus_ctx,
                    instance_uuid=event["server_uuid"],
                    name=event["name"],
                    tag=event.get("tag") or "",
                    status=out["status"],
                )
            except errors.ServiceUnavailable:
                LOG.info("no compute agent for the event", extra={"fields": out})
        answered.append(out)
    codes = {e["code"] for e in answered}
    status = 200 if codes == {200} else 404 if 200 not in codes else 207
    return JSONResponse({"events": answered}, status_code=status)
