"""Application credentials: a secret that authenticates as its user, on one project, with a
subset of the user's roles there.

Called by api/application_credentials.py. Only the secret's bcrypt hash is stored. A token made
from a restricted credential may not create or delete credentials (Keystone's rule, so a leaked
credential cannot breed more); deleting a credential invalidates its tokens at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.db.base import new_id, utcnow
from overcast.identity import models, passwords, revocation, roles
from overcast.identity.tokens import random_secret


@dataclass(frozen=True)
class NewCredential:
    """What the caller asked for, already checked for shape by the API."""

    name: str
    description: str | None
    secret: str | None
    expires_at: dt.datetime | None
    unrestricted: bool
    roles: list[dict[str, str]] | None  # [{"id": ...} or {"name": ..., "domain_id"?: ...}]
    access_rules: list[dict[str, Any]]


async def check_unrestricted(session: AsyncSession, ctx: RequestContext) -> None:
    """Refuse a caller whose token comes from a restricted application credential."""
    if ctx.application_credential_id is None:
        return
    cred = await session.get(models.ApplicationCredential, ctx.application_credential_id)
    if cred is None or not cred.unrestricted:
        raise errors.Forbidden(
            "Using method 'application_credential' is not allowed for managing additional "
            "application credentials."
        )


async def _find_role(session: AsyncSession, ref: dict[str, str]) -> models.Role | None:
    if "id" in ref:
        return await session.get(models.Role, ref["id"])
    stmt = select(models.Role).where(
        models.Role.name == ref.get("name", ""),
        models.Role.domain_id == (ref.get("domain_id") or models.GLOBAL),
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _choose_roles(
    session: AsyncSession, ctx: RequestContext, project: models.Project, wanted: Any
) -> list[str]:
    held = {
        r.id: r for r in await roles.effective_roles(session, ctx.user_id or "", project=project)
    }
    if not wanted:  # none named (clients send []): the roles of the token that asks
        return [r.id for r in held.values() if r.name in ctx.roles]
    chosen: list[str] = []
    for ref in wanted:
        role = await _find_role(session, ref)
        if role is None or role.id not in held:
            what = ref.get("id") or ref.get("name")
            raise errors.BadRequest(
                f"Invalid application credential: the user has no role {what} on project "
                f"{project.id}."
            )
        if role.id not in chosen:
            chosen.append(role.id)
    return chosen


async def create(
    session: AsyncSession, ctx: RequestContext, user_id: str, new: NewCredential, rounds: int
) -> tuple[models.ApplicationCredential, str]:
    """Create the credential; return it with its secret (the only time the secret is shown)."""
    if ctx.user_id != user_id:
        raise errors.Forbidden("Cannot create an application credential for another user.")
    await check_unrestricted(session, ctx)
    project = await session.get(models.Project, ctx.project_id) if ctx.project_id else None
    if project is None:
        raise errors.BadRequest("Application credentials are made with a project-scoped token.")
    if new.expires_at is not None and new.expires_at <= utcnow():
        raise errors.BadRequest("Invalid input for field 'expires_at': it is in the past.")
    role_ids = await _choose_roles(session, ctx, project, new.roles)
    if not role_ids:
        raise errors.BadRequest("Invalid application credential: it would hold no role.")
    secret = new.secret or random_secret(64)
    cred = models.ApplicationCredential(
        id=new_id(),
        name=new.name,
        user_id=user_id,
        project_id=project.id,
        secret_hash=await passwords.hash_secret(secret, rounds),
        description=new.description,
        expires_at=new.expires_at,
        unrestricted=new.unrestricted,
        roles=role_ids,
        access_rules=[{"id": uuid.uuid4().hex, **rule} for rule in new.access_rules],
        created_at=utcnow(),
    )
    session.add(cred)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise errors.Conflict(
            f"Conflict occurred attempting to store application_credential - {new.name} "
            "already exists for this user."
        ) from exc
    return cred, secret


async def get(session: AsyncSession, user_id: str, cred_id: str) -> models.ApplicationCredential:
    cred = await session.get(models.ApplicationCredential, cred_id)
    if cred is None or cred.user_id != user_id:
        raise errors.NotFound(f"Could not find application credential: {cred_id}.")
    return cred


async def list_(
    session: AsyncSession, user_id: str, name: str | None
) -> list[models.ApplicationCredential]:
    A = models.ApplicationCredential
    stmt = select(A).where(A.user_id == user_id).order_by(A.name, A.id)
    if name is not None:
        stmt = stmt.where(A.name == name)
    return list((await session.execute(stmt)).scalars())


async def delete(session: AsyncSession, ctx: RequestContext, user_id: str, cred_id: str) -> None:
    """Delete the credential and revoke every token made from it (announce after commit)."""
    await check_unrestricted(session, ctx)
    cred = await get(session, user_id, cred_id)
    await session.delete(cred)
    await revocation.revoke(session, application_credential_id=cred.id)


async def role_refs(session: AsyncSession, cred: models.ApplicationCredential) -> list[Any]:
    if not cred.roles:
        return []
    found = await session.execute(select(models.Role).where(models.Role.id.in_(cred.roles)))
    return [{"id": r.id, "name": r.name, "domain_id": r.domain_id or None} for r in found.scalars()]
