"""What a token means now: its user, scope, roles and catalog, checked against the database.

Used both to answer `GET /v3/auth/tokens` and by the validator every service's auth
middleware calls. A token stops being valid when its user, project or domain is disabled or
deleted, when it is revoked, or when its scope has no roles left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.identity import models, revocation, roles
from overcast.identity.tokens import TokenData, isoformat

INVALID = "The request you have made requires authentication."


@dataclass
class TokenView:
    data: TokenData
    user: models.User
    user_domain: models.Domain
    project: models.Project | None = None
    project_domain: models.Domain | None = None
    domain: models.Domain | None = None
    roles: list[models.Role] = field(default_factory=list)
    application_credential: models.ApplicationCredential | None = None

    def context(self, token: str) -> RequestContext:
        return RequestContext(
            user_id=self.user.id,
            user_name=self.user.name,
            user_domain_id=self.user.domain_id,
            project_id=self.project.id if self.project else None,
            project_name=self.project.name if self.project else None,
            project_domain_id=self.project.domain_id if self.project else None,
            domain_id=self.domain.id if self.domain else None,
            domain_name=self.domain.name if self.domain else None,
            system_scope=self.data.system,
            roles=tuple(r.name for r in self.roles),
            auth_token=token,
            expires_at=isoformat(self.data.expires_at),
            application_credential_id=self.data.application_credential_id,
            audit_ids=self.data.audit_ids,
        )


async def _enabled_domain(session: AsyncSession, domain_id: str) -> models.Domain:
    domain = await session.get(models.Domain, domain_id)
    if domain is None or not domain.enabled:
        raise errors.Unauthorized(INVALID)
    return domain


async def resolve(session: AsyncSession, data: TokenData) -> TokenView:
    """Check `data` against the database; raise Unauthorized if it is no longer valid."""
    if await revocation.is_revoked(session, data):
        raise errors.Unauthorized("The token has been revoked.")
    user = await session.get(models.User, data.user_id)
    if user is None or not user.enabled:
        raise errors.Unauthorized(INVALID)
    view = TokenView(
        data=data, user=user, user_domain=await _enabled_domain(session, user.domain_id)
    )
    if data.application_credential_id is not None:
        cred = await session.get(models.ApplicationCredential, data.application_credential_id)
        if cred is None or cred.user_id != user.id:
            raise errors.Unauthorized(INVALID)
        view.application_credential = cred
    if data.project_id is not None:
        project = await session.get(models.Project, data.project_id)
        if project is None or not project.enabled:
            raise errors.Unauthorized(INVALID)
        view.project = project
        view.project_domain = await _enabled_domain(session, project.domain_id)
        view.roles = await roles.effective_roles(session, user.id, project=project)
    elif data.domain_id is not None:
        view.domain = await _enabled_domain(session, data.domain_id)
        view.roles = await roles.effective_roles(session, user.id, domain_id=data.domain_id)
    elif data.system is not None:
        view.roles = await roles.effective_roles(session, user.id, system=True)
    if view.application_credential is not None:
        allowed = await roles.expand_implied(session, view.application_credential.roles)
        allowed_ids = {r.id for r in allowed}
        view.roles = [r for r in view.roles if r.id in allowed_ids]
    scoped = data.project_id or data.domain_id or data.system
    if scoped and not view.roles:
        raise errors.Unauthorized("The user has no roles on the token's scope any more.")
    return view
