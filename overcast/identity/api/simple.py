"""The routes of identity's plain records: create, list (with equality filters), show, check
(HEAD), update (PATCH) and delete, with Keystone's bodies and `identity:<verb>_<kind>` rules.
Used for policies, OAuth1 consumers and endpoint groups (`records.py` describes each)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.db.base import new_id
from overcast.common.http import auth
from overcast.identity import state
from overcast.identity.api import links


@dataclass(frozen=True)
class Record:
    path: str  # "/v3/policies"
    key: str  # "policy": the body key, the rule's noun, the 404's kind
    plural: str  # "policies"
    model: type[Any]
    create: type[BaseModel]  # the body's schema on create (extra fields allowed)
    update: type[BaseModel]  # on PATCH: every field optional
    columns: frozenset[str]
    filters: tuple[str, ...] = ()  # list query parameters matched against columns
    made: Callable[[], dict[str, Any]] = dict  # values made on create (a consumer's secret)
    once: frozenset[str] = field(default_factory=frozenset)  # shown on create only


def _view(rec: Record, request: Request, row: Any, *, created: bool = False) -> dict[str, Any]:
    out = {**(row.extra or {})}
    out.update({c: getattr(row, c) for c in rec.columns if created or c not in rec.once})
    out["id"] = row.id
    out["links"] = links.self_link(request, f"{rec.path.removeprefix('/v3/')}/{row.id}")
    return out


def _split(rec: Record, body: BaseModel) -> tuple[dict[str, Any], dict[str, Any]]:
    given = {k: getattr(body, k) for k in body.model_fields_set}
    known = {k: v for k, v in given.items() if k in rec.columns}
    return known, dict(body.model_extra or {})


async def _get(rec: Record, session: Any, row_id: str) -> Any:
    row = await session.get(rec.model, row_id)
    if row is None:
        raise errors.NotFound(f"Could not find {rec.key.replace('_', ' ')}: {row_id}.")
    return row


def router(rec: Record) -> APIRouter:
    api = APIRouter(prefix=rec.path)

    @api.post("", status_code=201)
    async def create(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
        ident = state.get(request)
        ident.enforce(f"identity:create_{rec.key}", ctx)
        payload = await links.read_json(request)
        if not isinstance(payload, dict) or not isinstance(payload.get(rec.key), dict):
            raise errors.BadRequest(f"Invalid input: '{rec.key}' must be an object.")
        body = links.validated(rec.create, payload[rec.key])
        known, extra = _split(rec, body)
        row = rec.model(id=new_id(), **{**known, **rec.made()}, extra=extra)
        async with ident.db.session() as session:
            session.add(row)
        return {rec.key: _view(rec, request, row, created=True)}

    @api.get("")
    async def index(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
        ident = state.get(request)
        ident.enforce(f"identity:list_{rec.plural}", ctx)
        stmt = select(rec.model)
        for name in rec.filters:
            if name in request.query_params:
                stmt = stmt.where(getattr(rec.model, name) == request.query_params[name])
        async with ident.db.reader() as session:
            rows = (await session.execute(stmt)).scalars().all()
        return {
            rec.plural: [_view(rec, request, r) for r in rows],
            "links": links.collection(request),
        }

    @api.get("/{row_id}")
    async def show(
        request: Request, row_id: str, ctx: RequestContext = Depends(auth.context)
    ) -> Any:
        ident = state.get(request)
        ident.enforce(f"identity:get_{rec.key}", ctx)
        async with ident.db.reader() as session:
            row = await _get(rec, session, row_id)
        return {rec.key: _view(rec, request, row)}

    @api.head("/{row_id}")
    async def check(
        request: Request, row_id: str, ctx: RequestContext = Depends(auth.context)
    ) -> Response:
        ident = state.get(request)
        ident.enforce(f"identity:get_{rec.key}", ctx)
        async with ident.db.reader() as session:
            await _get(rec, session, row_id)
        return Response(status_code=200)

    @api.patch("/{row_id}")
    async def update(
        request: Request, row_id: str, ctx: RequestContext = Depends(auth.context)
    ) -> Any:
        ident = state.get(request)
        ident.enforce(f"identity:update_{rec.key}", ctx)
        payload = await links.read_json(request)
        if not isinstance(payload, dict) or not isinstance(payload.get(rec.key), dict):
            raise errors.BadRequest(f"Invalid input: '{rec.key}' must be an object.")
        body = links.validated(rec.update, payload[rec.key])
        known, extra = _split(rec, body)
        async with ident.db.session() as session:
            row = await _get(rec, session, row_id)
            for name, value in known.items():
                setattr(row, name, value)
            if extra:
                row.extra = {**(row.extra or {}), **extra}
        return {rec.key: _view(rec, request, row)}

    @api.delete("/{row_id}", status_code=204)
    async def delete(
        request: Request, row_id: str, ctx: RequestContext = Depends(auth.context)
    ) -> Response:
        ident = state.get(request)
        ident.enforce(f"identity:delete_{rec.key}", ctx)
        async with ident.db.session() as session:
            await session.delete(await _get(rec, session, row_id))
        return Response(status_code=204)

    return api
