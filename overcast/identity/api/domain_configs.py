"""`/v3/domains/{id}/config[/{group}[/{option}]]` (create, show, update, delete) and
`/v3/domains/config[/{group}[/{option}]]/default`, Keystone's domain-specific configuration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import domain_config, state
from overcast.identity.api import links

router = APIRouter(prefix="/v3/domains")
RULE = "identity:{}_domain_config"


def _enforce(request: Request, ctx: RequestContext, verb: str) -> Any:
    ident = state.get(request)
    ident.enforce(RULE.format(verb), ctx)
    return ident


async def _body(request: Request) -> Any:
    payload = await links.read_json(request)
    if not isinstance(payload, dict) or "config" not in payload:
        raise errors.BadRequest("Invalid input: the body needs 'config'.")
    return payload["config"]


@router.get("/config/default")
@router.get("/config/{group}/default")
@router.get("/config/{group}/{option}/default")
async def defaults(
    request: Request,
    group: str | None = None,
    option: str | None = None,
    ctx: RequestContext = Depends(auth.context),
) -> Any:
    state.get(request).enforce("identity:get_domain_config_default", ctx)
    return {"config": domain_config.default(group, option)}


@router.put("/{domain_id}/config")
async def create(
    request: Request, domain_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = _enforce(request, ctx, "create")
    config = await _body(request)
    async with ident.db.session() as session:
        new = await domain_config.write(session, domain_id, config, replace=True)
        found = await domain_config.read(session, domain_id)
    return JSONResponse({"config": found}, status_code=201 if new else 200)


@router.get("/{domain_id}/config")
@router.get("/{domain_id}/config/{group}")
@router.get("/{domain_id}/config/{group}/{option}")
async def show(
    request: Request,
    domain_id: str,
    group: str | None = None,
    option: str | None = None,
    ctx: RequestContext = Depends(auth.context),
) -> Any:
    ident = _enforce(request, ctx, "get")
    async with ident.db.reader() as session:
        return {"config": await domain_config.read(session, domain_id, group, option)}


@router.patch("/{domain_id}/config")
@router.patch("/{domain_id}/config/{group}")
@router.patch("/{domain_id}/config/{group}/{option}")
async def update(
    request: Request,
    domain_id: str,
    group: str | None = None,
    option: str | None = None,
    ctx: RequestContext = Depends(auth.context),
) -> Any:
    ident = _enforce(request, ctx, "update")
    config = await _body(request)
    if option is not None and group is not None:
        if not isinstance(config, dict) or set(config) != {option}:
            raise errors.BadRequest(f"Invalid input: 'config' must set option {option} only.")
        config = {group: config}
    elif group is not None and (not isinstance(config, dict) or set(config) != {group}):
        raise errors.BadRequest(f"Invalid input: 'config' must hold group {group} only.")
    async with ident.db.session() as session:
        await domain_config.read(session, domain_id, group)
        await domain_config.write(session, domain_id, config, replace=False)
        found = await domain_config.read(session, domain_id, group)
    return {"config": found}


@router.delete("/{domain_id}/config", status_code=204)
@router.delete("/{domain_id}/config/{group}", status_code=204)
@router.delete("/{domain_id}/config/{group}/{option}", status_code=204)
async def delete(
    request: Request,
    domain_id: str,
    group: str | None = None,
    option: str | None = None,
    ctx: RequestContext = Depends(auth.context),
) -> Response:
    ident = _enforce(request, ctx, "delete")
    async with ident.db.session() as session:
        await domain_config.remove(session, domain_id, group, option)
    return Response(status_code=204)
