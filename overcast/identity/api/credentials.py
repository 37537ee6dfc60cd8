"""`/v3/credentials` (create, list with `?user_id` and `?type`, show, update, delete),
`/v3/users/{user_id}/credentials/OS-EC2` (what `openstack ec2 credentials` drives) and
`/v3/s3tokens` (an S3 request's signature checked against its EC2 secret; public, as the
signature is the proof)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import credentials, models, state, token_view
from overcast.identity.api import links, token_body
from overcast.identity.tokens import TokenData, new_audit_id

router = APIRouter(prefix="/v3")

Id = Field(min_length=1, max_length=64)


class CredentialIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    blob: str = Field(min_length=1, max_length=65535)
    type: str = Field(min_length=1, max_length=255)
    user_id: str = Id
    project_id: str | None = Field(None, min_length=1, max_length=64)


class CreateBody(BaseModel):
    model_config = ConfigDict(strict=True)
    credential: CredentialIn


class CredentialPatch(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    blob: str | None = Field(None, min_length=1, max_length=65535)
    type: str | None = Field(None, min_length=1, max_length=255)
    user_id: str | None = Field(None, min_length=1, max_length=64)
    project_id: str | None = Field(None, min_length=1, max_length=64)


class UpdateBody(BaseModel):
    model_config = ConfigDict(strict=True)
    credential: CredentialPatch


class Ec2In(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    tenant_id: str = Id


class S3Credentials(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    access: str = Field(min_length=1, max_length=255)
    token: str = Field(min_length=1, max_length=65535)
    signature: str = Field(min_length=1, max_length=1024)


class S3Body(BaseModel):
    model_config = ConfigDict(strict=True)
    credentials: S3Credentials


def view(request: Request, cred: models.Credential) -> dict[str, Any]:
    cipher = state.get(request).credential_cipher
    return {
        "id": cred.id,
        "user_id": cred.user_id,
        "project_id": cred.project_id,
        "type": cred.type,
        "blob": credentials.plain(cred, cipher),
        "links": links.self_link(request, f"credentials/{cred.id}"),
    }


def _target(cred: models.Credential | None, user_id: str | None = None) -> dict[str, Any]:
    owner = cred.user_id if cred is not None else user_id
    return {"target": {"credential": {"user_id": owner}}, "user_id": owner}


@router.post("/credentials", status_code=201)
async def create(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    body = (await links.parse(request, CreateBody)).credential
    ident.enforce("identity:create_credential", ctx, _target(None, body.user_id))
    async with ident.db.session() as session:
        cred = await credentials.create(
            session, ident.credential_cipher, body.user_id, body.type, body.blob, body.project_id
        )
    return {"credential": view(request, cred)}


@router.get("/credentials")
async def list_credentials(
    request: Request,
    user_id: str | None = None,
    type: str | None = None,
    ctx: RequestContext = Depends(auth.context),
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:list_credentials", ctx)
    async with ident.db.reader() as session:
        found = await credentials.list_(session, user_id, type)
    visible = []
    for cred in found:
        try:
            ident.enforce("identity:get_credential", ctx, _target(cred))
        except errors.Forbidden:
            continue  # a user lists only their own, as Keystone filters
        visible.append(view(request, cred))
    return {"credentials": visible, "links": links.collection(request)}


@router.get("/credentials/{cred_id}")
async def show(request: Request, cred_id: str, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    async with ident.db.reader() as session:
        cred = await credentials.get(session, cred_id)
    ident.enforce("identity:get_credential", ctx, _target(cred))
    return {"credential": view(request, cred)}


@router.patch("/credentials/{cred_id}")
async def update(
    request: Request, cred_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    changes = (await links.parse(request, UpdateBody)).credential.model_dump(exclude_unset=True)
    async with ident.db.session() as session:
        cred = await credentials.get(session, cred_id)
        ident.enforce("identity:update_credential", ctx, _target(cred))
        if "user_id" in changes:
            ident.enforce("identity:update_credential", ctx, _target(None, changes["user_id"]))
        cred = await credentials.update(session, ident.credential_cipher, cred, changes)
    return {"credential": view(request, cred)}


@router.delete("/credentials/{cred_id}", status_code=204)
async def delete(
    request: Request, cred_id: str, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    async with ident.db.session() as session:
        cred = await credentials.get(session, cred_id)
        ident.enforce("identity:delete_credential", ctx, _target(cred))
        await credentials.delete(session, cred)
    return Response(status_code=204)


# -- OS-EC2 ----------------------------------------------------------------------------------


def ec2_view(request: Request, cred: models.Credential) -> dict[str, Any]:
    blob = credentials.blob_of(cred, state.get(request).credential_cipher)
    return {
        "user_id": cred.user_id,
        "tenant_id": cred.project_id,
        "access": blob.get("access"),
        "secret": blob.get("secret"),
        "trust_id": blob.get("trust_id"),
        "links": links.self_link(
            request, f"users/{cred.user_id}/credentials/OS-EC2/{blob.get('access')}"
        ),
    }


@router.post("/users/{user_id}/credentials/OS-EC2", status_code=201)
async def ec2_create(
    request: Request, user_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:ec2_create_credential", ctx, {"user_id": user_id})
    body = await links.parse(request, Ec2In)
    async with ident.db.session() as session:
        cred = await credentials.create_ec2(
            session, ident.credential_cipher, user_id, body.tenant_id
        )
    return {"credential": ec2_view(request, cred)}


@router.get("/users/{user_id}/credentials/OS-EC2")
async def ec2_list(
    request: Request, user_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:ec2_list_credentials", ctx, {"user_id": user_id})
    async with ident.db.reader() as session:
        found = await credentials.list_(session, user_id, credentials.EC2)
    return {
        "credentials": [ec2_view(request, c) for c in found],
        "links": links.collection(request),
    }


@router.get("/users/{user_id}/credentials/OS-EC2/{access}")
async def ec2_show(
    request: Request, user_id: str, access: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:ec2_get_credential", ctx, {"user_id": user_id})
    async with ident.db.reader() as session:
        cred = await credentials.ec2_of(session, user_id, access)
    return {"credential": ec2_view(request, cred)}


@router.delete("/users/{user_id}/credentials/OS-EC2/{access}", status_code=204)
async def ec2_delete(
    request: Request, user_id: str, access: str, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    ident.enforce("identity:ec2_delete_credential", ctx, {"user_id": user_id})
    async with ident.db.session() as session:
        cred = await credentials.ec2_of(session, user_id, access)
        await credentials.delete(session, cred)
    return Response(status_code=204)


# -- s3tokens --------------------------------------------------------------------------------


@router.post("/s3tokens")
async def s3tokens(request: Request) -> Any:
    """The signature is checked here, so the secret stays in identity; the answer is the
    token body of the credential's user on its project (as Keystone's s3tokens gives)."""
    ident = state.get(request)
    body = (await links.parse(request, S3Body)).credentials
    now = dt.datetime.now(dt.UTC)
    async with ident.db.reader() as session:
        cred = await credentials.check_s3(
            session, ident.credential_cipher, body.access, body.token, body.signature
        )
        data = TokenData(
            user_id=cred.user_id,
            methods=("ec2credential",),
            expires_at=now + dt.timedelta(seconds=ident.settings.identity.token_expiration),
            issued_at=now,
            audit_ids=(new_audit_id(),),
            project_id=cred.project_id,
        )
        return await token_body.render(session, await token_view.resolve(session, data), None)
