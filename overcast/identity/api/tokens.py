"""`/v3/auth/tokens`: issue (POST), validate (GET), check (HEAD) and revoke (DELETE)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth, faults
from overcast.identity import catalog, revocation, state, token_view
from overcast.identity.api import links
from overcast.identity.tokens import isoformat

router = APIRouter(prefix="/v3/auth")


def _ref(obj: Any) -> dict[str, Any]:
    return {"id": obj.id, "name": obj.name}


async def render(
    session: Any, view: token_view.TokenView, cat: catalog.Catalog | None
) -> dict[str, Any]:
    """The token body; with the catalog when `cat` is given and the token is scoped."""
    data = view.data
    body: dict[str, Any] = {
        "methods": list(data.methods),
        "user": {
            **_ref(view.user),
            "domain": _ref(view.user_domain),
            "password_expires_at": (
                isoformat(view.user.password_expires_at) if view.user.password_expires_at else None
            ),
        },
        "audit_ids": list(data.audit_ids),
        "expires_at": isoformat(data.expires_at),
        "issued_at": isoformat(data.issued_at),
    }
    if view.project is not None and view.project_domain is not None:
        body["project"] = {**_ref(view.project), "domain": _ref(view.project_domain)}
        body["is_domain"] = False
    if view.domain is not None:
        body["domain"] = _ref(view.domain)
    if data.system:
        body["system"] = {data.system: True}
    if data.project_id or data.domain_id or data.system:
        body["roles"] = [_ref(r) for r in view.roles]
        if cat is not None:
            body["catalog"] = await cat.get(session)
    if view.application_credential is not None:
        cred = view.application_credential
        body["application_credential"] = {**_ref(cred), "restricted": not cred.unrestricted}
        if cred.access_rules:
            body["application_credential"]["access_rules"] = cred.access_rules
    return {"token": body}


def _catalog(ident: state.IdentityState, nocatalog: str | None) -> catalog.Catalog | None:
    return ident.catalog if nocatalog is None else None


def _parse_body(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict) or not isinstance(payload.get("auth"), dict):
        raise errors.BadRequest("Invalid input for field 'auth': expected an object.")
    return payload["auth"]


@router.post("/tokens", status_code=201)
async def issue(request: Request, nocatalog: str | None = None) -> Response:
    ident = state.get(request)
    auth_body = _parse_body(await links.read_json(request))
    failure: errors.Unauthorized | None = None
    # Failed attempts are committed too: they count towards lockout.
    async with ident.db.session() as session:
        try:
            token, view = await ident.authenticator.issue(session, auth_body)
            body = await render(session, view, _catalog(ident, nocatalog))
        except errors.Unauthorized as exc:
            failure = exc
    if failure is not None:
        response = faults.render_error(faults.keystone, failure)
        response.headers["WWW-Authenticate"] = f'Keystone uri="{links.v3(request)}"'
        return response
    return JSONResponse(body, status_code=201, headers={"X-Subject-Token": token})


async def _subject(request: Request, ctx: RequestContext, subject: str | None, rule: str) -> Any:
    ident = state.get(request)
    if not subject:
        raise errors.NotFound("Could not find token: the X-Subject-Token header is missing.")
    try:
        data = ident.formatter.decode(subject)
    except errors.Unauthorized as exc:
        raise errors.NotFound(f"Could not find token: {exc.message}") from exc
    ident.enforce(rule, ctx, {"target": {"token": {"user_id": data.user_id}}})
    return ident, data


@router.get("/tokens")
async def validate(
    request: Request,
    nocatalog: str | None = None,
    x_subject_token: str | None = Header(None),
    ctx: RequestContext = Depends(auth.context),
) -> JSONResponse:
    ident, data = await _subject(request, ctx, x_subject_token, "identity:validate_token")
    async with ident.db.reader() as session:
        try:
            view = await token_view.resolve(session, data)
        except errors.Unauthorized as exc:
            raise errors.NotFound(f"Could not find token: {exc.message}") from exc
        body = await render(session, view, _catalog(ident, nocatalog))
    return JSONResponse(body, headers={"X-Subject-Token": x_subject_token or ""})


@router.head("/tokens")
async def check(
    request: Request,
    x_subject_token: str | None = Header(None),
    ctx: RequestContext = Depends(auth.context),
) -> Response:
    ident, data = await _subject(request, ctx, x_subject_token, "identity:check_token")
    async with ident.db.reader() as session:
        try:
            await token_view.resolve(session, data)
        except errors.Unauthorized as exc:
            raise errors.NotFound(f"Could not find token: {exc.message}") from exc
    return Response(status_code=200, headers={"X-Subject-Token": x_subject_token or ""})


@router.delete("/tokens", status_code=204)
async def revoke(
    request: Request,
    x_subject_token: str | None = Header(None),
    ctx: RequestContext = Depends(auth.context),
) -> Response:
    ident, data = await _subject(request, ctx, x_subject_token, "identity:revoke_token")
    async with ident.db.session() as session:
        await revocation.revoke(session, audit_id=data.audit_ids[0])
    await revocation.announce(ident.bus, audit_id=data.audit_ids[0])
    return Response(status_code=204)
