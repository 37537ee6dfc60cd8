"""Users: create (the password hashed off the loop, never stored or shown in clear), update,
delete, and a user changing their own password with the original one.

Disabling a user, changing their password or deleting them ends their tokens: the caller
announces the revocation after the commit. Attributes Keystone does not model (email,
description, anything else) live in `extra` and are returned flat.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.config import IdentitySettings
from overcast.common.db.base import utcnow
from overcast.identity import cascade, lookup, models, options, passwords, revocation

OWN = {"name", "domain_id", "enabled", "password", "default_project_id", "options"}
IGNORED = {"id", "links", "password_expires_at", "federated"}
# What a user may change on their own record without the admin rule.
SELF_SERVICE = {"description", "email"}
FAILED = "The request you have made requires authentication."


def _extra(current: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
    extra = dict(current or {})
    extra.update({k: v for k, v in values.items() if k not in OWN and k not in IGNORED})
    return extra


async def _set_password(user: models.User, secret: str | None, rounds: int) -> None:
    user.password_hash = await passwords.hash_secret(secret, rounds) if secret else None
    user.password_created_at = utcnow()
    user.password_expires_at = None
    user.failed_auth_count = 0


async def create(
    session: AsyncSession, values: dict[str, Any], default_domain: str, rounds: int
) -> models.User:
    domain_id = values.get("domain_id") or default_domain
    await lookup.get(session, models.Domain, domain_id)
    name = values["name"]
    await lookup.ensure_unique(session, models.User, name, domain_id)
    user = models.User(
        name=name,
        domain_id=domain_id,
        enabled=values.get("enabled", True),
        default_project_id=values.get("default_project_id"),
        options=options.merge({}, values.get("options"), options.USER),
        extra=_extra({}, values),
        failed_auth_count=0,
    )
    await _set_password(user, values.get("password"), rounds)
    session.add(user)
    await lookup.flush(session, "user", name, domain_id)
    return user


async def update(
    session: AsyncSession, user: models.User, values: dict[str, Any], rounds: int
) -> bool:
    """Apply `values`; True when the user's tokens must end (disabled or new password)."""
    if values.get("domain_id") not in (None, user.domain_id):
        raise errors.BadRequest("Update of `domain_id` is not allowed.")
    name = values.get("name")
    if name is not None and name != user.name:
        await lookup.ensure_unique(session, models.User, name, user.domain_id, user.id)
        user.name = name
    revoke = False
    if "password" in values:
        await _set_password(user, values["password"], rounds)
        revoke = True
    if values.get("enabled") is not None:
        revoke = revoke or (user.enabled and not values["enabled"])
        user.enabled = values["enabled"]
    if "default_project_id" in values:
        user.default_project_id = values["default_project_id"]
    if "options" in values:
        user.options = options.merge(user.options, values["options"], options.USER)
    user.extra = _extra(user.extra, values)
    await lookup.flush(session, "user", user.name, user.domain_id)
    if revoke:
        await revocation.revoke(session, user_id=user.id)
    return revoke


def _locked(user: models.User, settings: IdentitySettings) -> bool:
    limit = settings.lockout_failure_attempts
    if not limit or user.failed_auth_count < limit or user.failed_auth_at is None:
        return False
    if (user.options or {}).get("ignore_lockout_failure_attempts"):
        return False
    return user.failed_auth_at + dt.timedelta(seconds=settings.lockout_duration) > utcnow()


async def change_password(
    session: AsyncSession,
    user: models.User,
    original: str,
    new: str,
    settings: IdentitySettings,
) -> bool:
    """Change `user`'s password if `original` is right. Returns False (with the failure counted
    towards lockout) when it is not; the caller commits and answers 401."""
    if _locked(user, settings):
        raise errors.Unauthorized(f"The account is locked for user: {user.id}.")
    if not await passwords.verify(original, user.password_hash) or not user.enabled:
        user.failed_auth_count += 1
        user.failed_auth_at = utcnow()
        return False
    if (user.options or {}).get("lock_password"):
        raise errors.Forbidden(
            "You cannot change your password at this time due to password policy disallowing "
            "password changes. Please contact your administrator to reset your password."
        )
    await _set_password(user, new, settings.password_hash_rounds)
    await revocation.revoke(session, user_id=user.id)
    return True


async def delete(session: AsyncSession, user: models.User) -> None:
    await cascade.forget_user(session, user.id)
    await session.delete(user)
