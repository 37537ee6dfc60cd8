"""Projects and their hierarchy: create under a domain or a parent, update (the tree may not be
moved; enabling and disabling respect parents and children), delete leaves, walk subtrees.

Called by `api/projects.py` inside a session. Top-level projects have no parent row; Keystone
shows their domain as `parent_id`, and so do the API's views.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.identity import cascade, domains, lookup, models, revocation, roles, tags

MAX_DEPTH = 5  # Keystone's max_project_tree_depth: levels of projects below the domain
OWN = {"name", "description", "enabled", "tags", "options", "domain_id", "parent_id", "is_domain"}


async def _place(
    session: AsyncSession, values: dict[str, Any], default_domain: str
) -> tuple[str, models.Project | None]:
    """The domain id and parent row a new project goes under."""
    domain_id = values.get("domain_id")
    parent_id = values.get("parent_id")
    parent: models.Project | None = None
    if parent_id is not None:
        parent = await session.get(models.Project, parent_id)
        if parent is None:
            domain = await lookup.get(session, models.Domain, parent_id)  # a top-level project
            parent_domain = domain.id
        else:
            parent_domain = parent.domain_id
        if domain_id is not None and domain_id != parent_domain:
            raise errors.BadRequest(
                "Cannot create project, the parent "
                f"({parent_id}) is in a different domain than {domain_id}."
            )
        domain_id = parent_domain
    domain_id = domain_id or default_domain
    await lookup.get(session, models.Domain, domain_id)
    return domain_id, parent


async def create(
    session: AsyncSession, values: dict[str, Any], default_domain: str
) -> models.Project:
    if values.get("is_domain"):
        raise errors.BadRequest(
            "Projects acting as domains are not supported here: create a domain with "
            "POST /v3/domains."
        )
    domain_id, parent = await _place(session, values, default_domain)
    if parent is not None:
        chain = [parent, *await roles.ancestors(session, parent)]
        if any(not p.enabled for p in chain):
            raise errors.Forbidden(
                f"Cannot create a project in a branch containing a disabled project: {parent.id}."
            )
        if len(chain) + 1 > MAX_DEPTH:
            raise errors.Forbidden(f"Max hierarchy depth reached for {parent.id} branch.")
    name = values["name"]
    await lookup.ensure_unique(session, models.Project, name, domain_id)
    project = models.Project(
        name=name,
        domain_id=domain_id,
        parent_id=parent.id if parent is not None else None,
        description=values.get("description") or "",
        enabled=values.get("enabled", True),
        tags=tags.check_list(values.get("tags") or []),
        extra=domains.merge_extra({}, values, OWN),
    )
    session.add(project)
    await lookup.flush(session, "project", name, domain_id)
    return project


def shown_parent(project: models.Project) -> str:
    return project.parent_id or project.domain_id


async def update(session: AsyncSession, project: models.Project, values: dict[str, Any]) -> bool:
    """Apply `values`; True when the project went from enabled to disabled."""
    lookup.check_mutable(project, "project", values)
    if values.get("domain_id") not in (None, project.domain_id):
        raise errors.BadRequest("Update of `domain_id` is not allowed.")
    if "parent_id" in values and values["parent_id"] != shown_parent(project):
        raise errors.Forbidden("Update of `parent_id` is not allowed.")
    if values.get("is_domain") not in (None, False):
        raise errors.BadRequest("Update of `is_domain` is not allowed.")
    enabled = values.get("enabled")
    if enabled is True and not project.enabled:
        if any(not p.enabled for p in await roles.ancestors(session, project)):
            raise errors.Forbidden(
                f"Cannot enable project {project.id} since it has disabled parents."
            )
    disabled = enabled is False and project.enabled
    if disabled and any(p.enabled for p in await subtree(session, project.id)):
        raise errors.Forbidden(
            f"Cannot disable project {project.id} since its subtree contains enabled projects."
        )
    name = values.get("name")
    if name is not None and name != project.name:
        await lookup.ensure_unique(session, models.Project, name, project.domain_id, project.id)
        project.name = name
    if "description" in values:
        project.description = values["description"] or ""
    if values.get("tags") is not None:
        project.tags = tags.check_list(values["tags"])
    if enabled is not None:
        project.enabled = enabled
    project.extra = domains.merge_extra(project.extra, values, OWN)
    await lookup.flush(session, "project", project.name, project.domain_id)
    if disabled:
        await revocation.revoke(session, project_id=project.id)
    return disabled


async def children(session: AsyncSession, parent_ids: list[str]) -> list[models.Project]:
    if not parent_ids:
        return []
    stmt = select(models.Project).where(models.Project.parent_id.in_(parent_ids))
    return list((await session.execute(stmt)).scalars())


async def subtree(session: AsyncSession, project_id: str) -> list[models.Project]:
    """Every project below `project_id`, level by level."""
    found: list[models.Project] = []
    level = await children(session, [project_id])
    while level and len(found) < 100000:
        found.extend(level)
        level = await children(session, [p.id for p in level])
    return found


async def delete(session: AsyncSession, project: models.Project) -> None:
    lookup.check_mutable(project, "project")
    if await children(session, [project.id]):
        raise errors.Forbidden(
            f"Cannot delete the project {project.id} since it is not a leaf in the hierarchy."
        )
    await cascade.forget_projects(session, [project.id])
    await session.delete(project)


async def set_tags(session: AsyncSession, project: models.Project, new: list[Any]) -> None:
    lookup.check_mutable(project, "project", {"tags": new})
    project.tags = tags.check_list(new)


async def add_tag(session: AsyncSession, project: models.Project, tag: str) -> None:
    current = list(project.tags or [])
    if tags.check(tag) not in current:
        await set_tags(session, project, [*current, tag])


async def remove_tag(session: AsyncSession, project: models.Project, tag: str) -> None:
    current = list(project.tags or [])
    if tag not in current:
        raise errors.NotFound(f"Tag {tag} was not found on project {project.id}.")
    await set_tags(session, project, [t for t in current if t != tag])
