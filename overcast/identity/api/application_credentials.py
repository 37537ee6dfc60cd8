"""`/v3/users/{user_id}/application_credentials`: create, list (`?name`), show and delete.

The secret is returned once, by create. Deleting a credential revokes its tokens everywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import appcreds, models, revocation, state
from overcast.identity.api import links

router = APIRouter(prefix="/v3/users/{user_id}/application_credentials")

Name = Field(min_length=1, max_length=255)


class RoleRef(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    id: str | None = Field(None, min_length=1, max_length=64)
    name: str | None = Field(None, min_length=1, max_length=255)
    domain_id: str | None = Field(None, max_length=64)


class AccessRule(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    path: str = Field(min_length=1, max_length=225)
    method: Literal["HEAD", "GET", "POST", "PUT", "PATCH", "DELETE"]
    service: str = Field(min_length=1, max_length=64)


class CredentialIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name: str = Name
    description: str | None = Field(None, max_length=255)
    secret: str | None = Field(None, min_length=1, max_length=4096)
    expires_at: str | None = Field(None, max_length=64)
    roles: list[RoleRef] | None = Field(None, max_length=100)
    unrestricted: bool = False
    access_rules: list[AccessRule] = Field(default_factory=list, max_length=100)


class CreateBody(BaseModel):
    model_config = ConfigDict(strict=True)
    application_credential: CredentialIn


def _expiry(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise errors.BadRequest(
            f"Invalid input for field 'expires_at': {text!r} is not an ISO 8601 time."
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _command(body: CredentialIn) -> appcreds.NewCredential:
    if body.roles is not None and any(not (r.id or r.name) for r in body.roles):
        raise errors.BadRequest("Invalid input for field 'roles': each role needs an id or name.")
    return appcreds.NewCredential(
        name=body.name,
        description=body.description,
        secret=body.secret,
        expires_at=_expiry(body.expires_at),
        unrestricted=body.unrestricted,
        roles=None if body.roles is None else [r.model_dump(exclude_none=True) for r in body.roles],
        access_rules=[r.model_dump() for r in body.access_rules],
    )


async def view(request: Request, session: Any, cred: models.ApplicationCredential) -> Any:
    expires = cred.expires_at
    return {
        "id": cred.id,
        "name": cred.name,
        "description": cred.description,
        "user_id": cred.user_id,
        "project_id": cred.project_id,
        "roles": await appcreds.role_refs(session, cred),
        "unrestricted": cred.unrestricted,
        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.%f") if expires else None,
        "access_rules": cred.access_rules or [],
        "links": links.self_link(
            request, f"users/{cred.user_id}/application_credentials/{cred.id}"
        ),
    }


@router.post("", status_code=201)
async def create(
    request: Request, user_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:create_application_credential", ctx, {"user_id": user_id})
    command = _command((await links.parse(request, CreateBody)).application_credential)
    rounds = ident.settings.identity.password_hash_rounds
    async with ident.db.session() as session:
        cred, secret = await appcreds.create(session, ctx, user_id, command, rounds)
        body = await view(request, session, cred)
    return {"application_credential": {**body, "secret": secret}}


@router.get("")
async def list_credentials(
    request: Request,
    user_id: str,
    name: str | None = None,
    ctx: RequestContext = Depends(auth.context),
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:list_application_credentials", ctx, {"user_id": user_id})
    async with ident.db.reader() as session:
        found = [
            await view(request, session, c) for c in await appcreds.list_(session, user_id, name)
        ]
    return {"application_credentials": found, "links": links.collection(request)}


@router.get("/{cred_id}")
async def show(
    request: Request, user_id: str, cred_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:get_application_credential", ctx, {"user_id": user_id})
    async with ident.db.reader() as session:
        cred = await appcreds.get(session, user_id, cred_id)
        return {"application_credential": await view(request, session, cred)}


@router.delete("/{cred_id}", status_code=204)
async def delete(
    request: Request, user_id: str, cred_id: str, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    ident.enforce("identity:delete_application_credential", ctx, {"user_id": user_id})
    async with ident.db.session() as session:
        await appcreds.delete(session, ctx, user_id, cred_id)
    await revocation.announce(ident.bus, application_credential_id=cred_id)
    return Response(status_code=204)
