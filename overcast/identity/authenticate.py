"""Token issue: check the auth methods of `POST /v3/auth/tokens` and settle the scope.

Every failure to authenticate answers the same 401 message, whether or not the user exists,
and costs a password hash either way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors, log
from overcast.common.config import IdentitySettings
from overcast.common.db.base import utcnow
from overcast.identity import models, passwords, roles, token_view
from overcast.identity.tokens import TokenData, TokenFormatter, new_audit_id

LOG = log.get(__name__)

FAILED = "The request you have made requires authentication."


@dataclass
class Identity:
    """Who authenticated, and what the methods fix about the token."""

    user: models.User
    methods: tuple[str, ...]
    expires_at: dt.datetime | None = None
    audit_chain: str | None = None
    application_credential: models.ApplicationCredential | None = None


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.BadRequest(f"Invalid input for field '{what}': expected an object.")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 4096:
        raise errors.BadRequest(f"Invalid input for field '{what}': expected a non-empty string.")
    return value


async def find_domain(session: AsyncSession, ref: dict[str, Any]) -> models.Domain | None:
    if "id" in ref:
        return await session.get(models.Domain, _str(ref["id"], "domain.id"))
    if "name" in ref:
        name = _str(ref["name"], "domain.name")
        return (
            await session.execute(select(models.Domain).where(models.Domain.name == name))
        ).scalar_one_or_none()
    raise errors.BadRequest("A domain needs an id or a name.")


async def find_user(session: AsyncSession, ref: dict[str, Any]) -> models.User | None:
    if "id" in ref:
        return await session.get(models.User, _str(ref["id"], "user.id"))
    name = _str(ref.get("name"), "user.name")
    domain = await find_domain(session, _obj(ref.get("domain"), "user.domain"))
    if domain is None:
        return None
    return (
        await session.execute(
            select(models.User).where(models.User.name == name, models.User.domain_id == domain.id)
        )
    ).scalar_one_or_none()


class Authenticator:
    def __init__(self, settings: IdentitySettings, formatter: TokenFormatter) -> None:
        self.settings = settings
        self.formatter = formatter

    async def password(self, session: AsyncSession, body: dict[str, Any]) -> Identity:
        user_ref = _obj(body.get("user"), "password.user")
        secret = _str(user_ref.get("password"), "password.user.password")
        user = await find_user(session, user_ref)
        ok = await passwords.verify(secret, user.password_hash if user else None)
        if user is not None and self._locked(user):
            # Same answer and same cost as a wrong password: a lockout must not reveal that
            # the account exists.
            LOG.warning(
                "authentication refused: account locked", extra={"fields": {"user_id": user.id}}
            )
            raise errors.Unauthorized(FAILED)
        if user is None or not ok:
            if user is not None:
                user.failed_auth_count += 1
                user.failed_auth_at = utcnow()
            raise errors.Unauthorized(FAILED)
        if not user.enabled:
            raise errors.Unauthorized(FAILED)
        if user.failed_auth_count:
            user.failed_auth_count = 0
        now = utcnow()
        # Kept to the day, as Keystone keeps it: a write on every login would serialise logins.
        if user.last_active_at is None or user.last_active_at.date() != now.date():
            user.last_active_at = now
        if user.password_expires_at is not None and user.password_expires_at <= utcnow():
            raise errors.Unauthorized("The password is expired and needs to be changed.")
        return Identity(user=user, methods=("password",))

    def _locked(self, user: models.User) -> bool:
        limit = self.settings.lockout_failure_attempts
        if not limit or user.failed_auth_count < limit or user.failed_auth_at is None:
            return False
        ignore = (user.options or {}).get("ignore_lockout_failure_attempts")
        until = user.failed_auth_at + dt.timedelta(seconds=self.settings.lockout_duration)
        if until <= utcnow():
            user.failed_auth_count = 0
            return False
        return not ignore

    async def token(self, session: AsyncSession, body: dict[str, Any]) -> Identity:
        token_id = _str(body.get("id"), "token.id")
        data = self.formatter.decode(token_id)
        view = await token_view.resolve(session, data)
        if data.application_credential_id is not None:
            raise errors.Forbidden(
                "A token made from an application credential cannot make new tokens."
            )
        return Identity(
            user=view.user,
            # As Keystone: a token made from a token was also made by the `token` method.
            methods=tuple(dict.fromkeys((*data.methods, "token"))),
            expires_at=data.expires_at,
            audit_chain=data.audit_chain_id,
        )

    async def application_credential(self, session: AsyncSession, body: dict[str, Any]) -> Identity:
        secret = _str(body.get("secret"), "application_credential.secret")
        cred: models.ApplicationCredential | None
        if "id" in body:
            cred = await session.get(models.ApplicationCredential, _str(body["id"], "id"))
        else:
            user = await find_user(session, _obj(body.get("user"), "application_credential.user"))
            name = _str(body.get("name"), "application_credential.name")
            cred = None
            if user is not None:
                cred = (
                    await session.execute(
                        select(models.ApplicationCredential).where(
                            models.ApplicationCredential.user_id == user.id,
                            models.ApplicationCredential.name == name,
                        )
                    )
                ).scalar_one_or_none()
        ok = await passwords.verify(secret, cred.secret_hash if cred else None)
        if cred is None or not ok:
            raise errors.Unauthorized(FAILED)
        if cred.expires_at is not None and cred.expires_at <= utcnow():
            raise errors.Unauthorized("The application credential has expired.")
        user = await session.get(models.User, cred.user_id)
        if user is None or not user.enabled:
            raise errors.Unauthorized(FAILED)
        return Identity(user=user, methods=("application_credential",), application_credential=cred)

    async def identify(self, session: AsyncSession, identity: dict[str, Any]) -> Identity:
        methods = identity.get("methods")
        if not isinstance(methods, list) or not methods:
            raise errors.BadRequest("Invalid input for field 'identity.methods': expected a list.")
        method = methods[0]
        handlers = {
            "password": self.password,
            "token": self.token,
            "application_credential": self.application_credential,
        }
        if method not in handlers:
            raise errors.Unauthorized(
                f"Attempted to authenticate with an unsupported method: {method}."
            )
        return await handlers[method](session, _obj(identity.get(method), method))

    async def issue(
        self, session: AsyncSession, auth: dict[str, Any]
    ) -> tuple[str, token_view.TokenView]:
        """Authenticate `auth` (the body's "auth" object) and make a token for its scope."""
        who = await self.identify(session, _obj(auth.get("identity"), "auth.identity"))
        scope = await self._scope(session, who, auth.get("scope"))
        now = utcnow()
        lifetime = dt.timedelta(seconds=self.settings.token_expiration)
        expires = who.expires_at or now + lifetime
        if who.application_credential and who.application_credential.expires_at:
            expires = min(expires, who.application_credential.expires_at)
        own = new_audit_id()
        data = TokenData(
            user_id=who.user.id,
            methods=who.methods,
            expires_at=expires,
            issued_at=now,
            audit_ids=(own, who.audit_chain) if who.audit_chain else (own,),
            application_credential_id=(
                who.application_credential.id if who.application_credential else None
            ),
            **scope,
        )
        try:
            view = await token_view.resolve(session, data)
        except errors.Unauthorized as exc:
            raise errors.Unauthorized(f"{FAILED} {exc.message}") from exc
        return self.formatter.encode(data), view

    async def _scope(self, session: AsyncSession, who: Identity, scope: Any) -> dict[str, Any]:
        cred = who.application_credential
        if cred is not None:
            if scope not in (None, "unscoped") and not _scope_matches(scope, cred):
                raise errors.Unauthorized("An application credential is bound to its own scope.")
            return {"system": cred.system} if cred.system else {"project_id": cred.project_id}
        if scope is None:
            project_id = who.user.default_project_id
            if project_id:
                project = await session.get(models.Project, project_id)
                if (
                    project is not None
                    and project.enabled
                    and await roles.effective_roles(session, who.user.id, project=project)
                ):
                    return {"project_id": project_id}
            return {}
        if scope == "unscoped":
            return {}
        scope = _obj(scope, "auth.scope")
        if "project" in scope:
            project = await self._find_project(session, _obj(scope["project"], "scope.project"))
            return {"project_id": project.id}
        if "domain" in scope:
            domain = await find_domain(session, _obj(scope["domain"], "scope.domain"))
            if domain is None:
                raise errors.Unauthorized("Could not find domain for the requested scope.")
            return {"domain_id": domain.id}
        if "system" in scope:
            if _obj(scope["system"], "scope.system").get("all") is not True:
                raise errors.BadRequest("Only the system scope {'all': true} exists.")
            return {"system": "all"}
        raise errors.BadRequest("The scope must name a project, a domain or the system.")

    async def _find_project(self, session: AsyncSession, ref: dict[str, Any]) -> models.Project:
        project: models.Project | None = None
        if "id" in ref:
            project = await session.get(models.Project, _str(ref["id"], "project.id"))
        else:
            name = _str(ref.get("name"), "project.name")
            domain = await find_domain(session, _obj(ref.get("domain"), "project.domain"))
            if domain is not None:
                project = (
                    await session.execute(
                        select(models.Project).where(
                            models.Project.name == name, models.Project.domain_id == domain.id
                        )
                    )
                ).scalar_one_or_none()
        if project is None:
            raise errors.Unauthorized("Could not find project for the requested scope.")
        return project


def _scope_matches(scope: Any, cred: models.ApplicationCredential) -> bool:
    if not isinstance(scope, dict):
        return False
    project = scope.get("project")
    return isinstance(project, dict) and project.get("id") == cred.project_id
