"""What goes with a deleted or disabled identity resource: its assignments, memberships,
application credentials, credentials and, for disabling, revocation events for its tokens.

Deletes are explicit statements rather than foreign-key cascades, so they behave the same on
SQLite, PostgreSQL and MariaDB. Callers announce the revocation after the commit.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.identity import models, revocation

A = models.Assignment
PROJECT_TYPES = ("UserProject", "GroupProject")
DOMAIN_TYPES = ("UserDomain", "GroupDomain")


async def forget_user(session: AsyncSession, user_id: str) -> None:
    await session.execute(delete(models.Membership).where(models.Membership.user_id == user_id))
    await session.execute(delete(A).where(A.actor_id == user_id, A.type.like("User%")))
    await session.execute(
        delete(models.ApplicationCredential).where(models.ApplicationCredential.user_id == user_id)
    )
    await session.execute(delete(models.Credential).where(models.Credential.user_id == user_id))


async def forget_group(session: AsyncSession, group_id: str) -> None:
    await session.execute(delete(models.Membership).where(models.Membership.group_id == group_id))
    await session.execute(delete(A).where(A.actor_id == group_id, A.type.like("Group%")))


async def forget_projects(session: AsyncSession, project_ids: list[str]) -> None:
    if not project_ids:
        return
    await session.execute(delete(A).where(A.target_id.in_(project_ids), A.type.in_(PROJECT_TYPES)))
    await session.execute(
        delete(models.ApplicationCredential).where(
            models.ApplicationCredential.project_id.in_(project_ids)
        )
    )
    await session.execute(
        delete(models.Credential).where(models.Credential.project_id.in_(project_ids))
    )


async def forget_role(session: AsyncSession, role_id: str) -> None:
    await session.execute(delete(A).where(A.role_id == role_id))
    I = models.ImpliedRole  # noqa: E741 - the table's initial, as elsewhere
    await session.execute(
        delete(I).where(or_(I.prior_role_id == role_id, I.implied_role_id == role_id))
    )


async def _ids(session: AsyncSession, model: type, domain_id: str) -> list[str]:
    rows = await session.execute(select(model.id).where(model.domain_id == domain_id))  # type: ignore[attr-defined]
    return list(rows.scalars())


async def forget_domain(session: AsyncSession, domain_id: str) -> None:
    """Delete everything that lives in the domain: projects, users, groups, roles, grants."""
    projects = await _ids(session, models.Project, domain_id)
    await forget_projects(session, projects)
    await session.execute(delete(A).where(A.target_id == domain_id, A.type.in_(DOMAIN_TYPES)))
    for user_id in await _ids(session, models.User, domain_id):
        await forget_user(session, user_id)
    for group_id in await _ids(session, models.Group, domain_id):
        await forget_group(session, group_id)
    for role_id in await _ids(session, models.Role, domain_id):
        await forget_role(session, role_id)
    # Parents refer to children's rows; unlink the tree first so one delete removes it all.
    P = models.Project
    await session.execute(update(P).where(P.domain_id == domain_id).values(parent_id=None))
    await session.execute(delete(P).where(P.domain_id == domain_id))
    for model in (models.User, models.Group, models.Role):
        await session.execute(delete(model).where(model.domain_id == domain_id))


async def revoke_domain(session: AsyncSession, domain_id: str) -> None:
    """Revoke every token of the domain's users and projects (the domain was disabled)."""
    for user_id in await _ids(session, models.User, domain_id):
        await revocation.revoke(session, user_id=user_id)
    for project_id in await _ids(session, models.Project, domain_id):
        await revocation.revoke(session, project_id=project_id)
