"""os-keypairs: a user's key pairs. `type` appears at 2.2, admins name another `user_id` at
2.10, lists page at 2.35, and from 2.92 keys are imported only (names may hold `@` and `.`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from overcast.compute import keypairs
from overcast.compute.api import inputs
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.models.keypairs import KeyPair

router = APIRouter()
RULE = "os_compute_api:os-keypairs:"


def _user(r: Req, request: Request, action: str, user_id: str | None = None) -> str:
    """The user whose keys are meant (the caller unless an admin names one from 2.10)."""
    if user_id is None and r.at_least("2.10"):
        user_id = request.query_params.get("user_id") or None
    user = user_id or r.ctx.user_id or ""
    r.enforce(RULE + action, {"user_id": user, "project_id": r.ctx.project_id})
    return user


def _view(r: Req, kp: KeyPair, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": kp.name,
        "public_key": kp.public_key,
        "fingerprint": kp.fingerprint,
    }
    if r.at_least("2.2"):
        out["type"] = kp.type
    if full:
        out.update(
            user_id=kp.user_id,
            id=kp.id,
            created_at=inputs.isotime(kp.created_at),
            updated_at=inputs.isotime(kp.updated_at),
            deleted=False,
            deleted_at=None,
        )
    return out


@router.get("/v2.1/os-keypairs")
async def index(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    user = _user(r, request, "index")
    limit = marker = None
    if r.at_least("2.35"):
        limit = inputs.query_int(request.query_params.get("limit"), "limit")
        marker = request.query_params.get("marker")
    async with r.state.db.reader() as session:
        found = await keypairs.list_for_user(session, user, limit=limit, marker=marker)
    body: dict[str, Any] = {"keypairs": [{"keypair": _view(r, kp)} for kp in found]}
    if limit and len(found) == limit:
        params = {k: v for k, v in request.query_params.items() if k not in ("marker",)}
        params["marker"] = found[-1].name
        body["keypairs_links"] = [
            {"rel": "next", "href": r.url(f"/os-keypairs?{urlencode(params)}")}
        ]
    return body


@router.post("/v2.1/os-keypairs")
async def create(request: Request, r: Req = Depends(req)) -> Response:
    body = await json_body(request)
    allowed = {"name", "public_key"}
    if r.at_least("2.2"):
        allowed.add("type")
    if r.at_least("2.10"):
        allowed.add("user_id")
    kp = inputs.section(body, "keypair", allowed)
    name = inputs.string(inputs.required(kp, "name", "keypair"), "name")
    public_key = kp.get("public_key")
    if r.at_least("2.92"):
        public_key = inputs.required(kp, "public_key", "keypair")
    if public_key is not None:
        public_key = inputs.string(public_key, "public_key", max_len=65535)
    key_type = kp.get("type", "ssh")
    if key_type not in keypairs.TYPES:
        raise inputs.invalid("type", key_type, f"{key_type!r} is not one of ['ssh', 'x509']")
    user_id = kp.get("user_id")
    if user_id is not None:
        user_id = inputs.string(user_id, "user_id")
    user = _user(r, request, "create", user_id)
    async with r.state.db.session() as session:
        made, private_key = await keypairs.create(
            session,
            user,
            r.ctx.project_id or "",
            name,
            key_type=key_type,
            public_key=public_key,
            allow_at_and_dot=r.at_least("2.92"),
        )
    view = _view(r, made)
    view["user_id"] = made.user_id
    if private_key is not None:
        view["private_key"] = private_key
    return JSONResponse({"keypair": view}, status_code=201 if r.at_least("2.2") else 200)


@router.get("/v2.1/os-keypairs/{name}")
async def show(name: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    user = _user(r, request, "show")
    async with r.state.db.reader() as session:
        found = await keypairs.get(session, user, name)
    return {"keypair": _view(r, found, full=True)}


@router.delete("/v2.1/os-keypairs/{name}")
async def delete(name: str, request: Request, r: Req = Depends(req)) -> Response:
    user = _user(r, request, "delete")
    async with r.state.db.session() as session:
        await keypairs.delete(session, user, name)
    return Response(status_code=204 if r.at_least("2.2") else 202)
