"""`/v3/auth/tokens`: issue (POST), validate (GET), check (HEAD) and revoke (DELETE)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth, faults
from overcast.identity import catalog, revocation, state
from overcast.identity.api import links, token_body

router = APIRouter(prefix="/v3/auth")


def _catalog(ident: state.IdentityState, nocatalog: str | None) -> catalog.Catalog | None:
    return ident.catalog if nocatalog is None else None


def _parse_body(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict) or not isinstance(payload.get("auth"), dict):
        raise errors.BadRequest("Invalid input for field 'auth': expected an object.")
    auth_body: dict[str, Any] = payload["auth"]
    return auth_body


@router.post("/tokens", status_code=201)
async def issue(request: Request, nocatalog: str | None = None) -> Response:
    ident = state.get(request)
    auth_body = _parse_body(await links.read_json(request))
    failure: errors.Unauthorized | None = None
    # Failed attempts are committed too: they count towards lockout.
    async with ident.db.session() as session:
        try:
            token, view = await ident.authenticator.issue(session, auth_body)
            body = await token_body.render(session, view, _catalog(ident, nocatalog))
        except errors.Unauthorized as exc:
            failure = exc
    if failure is not None:
        response = faults.render_error(faults.keystone, failure)
        response.headers["WWW-Authenticate"] = f'Keystone uri="{links.v3(request)}"'
        return response
    return JSONResponse(body, status_code=201, headers={"X-Subject-Token": token})


def _owner_target(user_id: str) -> dict[str, Any]:
    return {"target": {"token": {"user_id": user_id}}}


async def validate(request: Request) -> Response:
    """Validate X-Subject-Token (`?nocatalog` leaves the catalog out). The hot path: the
    parameters are read by hand rather than through FastAPI's dependency machinery."""
    ident = state.get(request)
    ctx = auth.current(request)
    subject = request.headers.get("x-subject-token", "")
    # Most callers send no query string: parse it only when there is one.
    with_catalog = not request.scope["query_string"] or "nocatalog" not in request.query_params
    found = await token_body.validated(ident, subject, with_catalog)
    ident.enforce("identity:validate_token", ctx, _owner_target(found.user_id))
    return Response(found.body, media_type="application/json", headers={"X-Subject-Token": subject})


async def check(request: Request) -> Response:
    ident = state.get(request)
    ctx = auth.current(request)
    subject = request.headers.get("x-subject-token", "")
    found = await token_body.validated(ident, subject, False)
    ident.enforce("identity:check_token", ctx, _owner_target(found.user_id))
    return Response(status_code=200, headers={"X-Subject-Token": subject})


# Validation is the hottest path of the cloud: every service's cache miss and every other
# client's check lands here. Plain Starlette routes skip FastAPI's dependency machinery (a
# third of the cost of a request); HEAD first, since a GET route answers HEAD too.
router.add_route(router.prefix + "/tokens", check, methods=["HEAD"])
router.add_route(router.prefix + "/tokens", validate, methods=["GET"])


@router.delete("/tokens", status_code=204)
async def revoke(
    request: Request,
    x_subject_token: str | None = Header(None),
    ctx: RequestContext = Depends(auth.context),
) -> Response:
    ident = state.get(request)
    if not x_subject_token:
        raise errors.NotFound("Could not find token: the X-Subject-Token header is missing.")
    try:
        data = ident.formatter.decode(x_subject_token)
    except errors.Unauthorized as exc:
        raise errors.NotFound(f"Could not find token: {exc.message}") from exc
    ident.enforce("identity:revoke_token", ctx, _owner_target(data.user_id))
    async with ident.db.session() as session:
        await revocation.revoke(session, audit_id=data.audit_ids[0])
    await revocation.announce(ident.bus, audit_id=data.audit_ids[0])
    return Response(status_code=204)
