"""First start: the Default domain, the admin/service/demo projects, the admin > manager >
member > reader roles, `service` and the roles other services name (Swift's `ResellerAdmin`),
the admin and demo users, RegionOne and the catalog. Every step is idempotent, so a second
start on the same data dir only refreshes the catalog URLs and adds a newly named role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.files import atomic_write
from overcast.common.service import CatalogEntry
from overcast.identity import models, passwords
from overcast.identity.tokens import random_secret

DEFAULT_DOMAIN = "default"


@dataclass(frozen=True)
class Credentials:
    admin_password: str
    demo_password: str
    projects: dict[str, str] = field(default_factory=dict)  # bootstrap project name -> id


def _password_file(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    secret = random_secret(18)
    atomic_write(path, secret.encode() + b"\n", 0o600)
    return secret


async def _one(session: AsyncSession, model: type, **where: object) -> object | None:
    stmt = select(model).filter_by(**where)
    return (await session.execute(stmt)).scalars().first()


async def _ensure(
    session: AsyncSession, model: type, where: dict[str, object], **values: object
) -> object:
    found = await _one(session, model, **where)
    if found is None:
        found = model(**where, **values)
        session.add(found)
        await session.flush()
    return found


async def run(
    session: AsyncSession,
    data_dir: Path,
    region: str,
    entries: list[CatalogEntry],
    service_roles: tuple[str, ...],
    rounds: int,
) -> Credentials:
    await _ensure(
        session,
        models.Domain,
        {"id": DEFAULT_DOMAIN},
        name="Default",
        description="The default domain",
        enabled=True,
        extra={},
        tags=[],
    )
    projects = {}
    for name in ("admin", "service", "demo"):
        projects[name] = await _ensure(
            session,
            models.Project,
            {"name": name, "domain_id": DEFAULT_DOMAIN},
            description=f"Bootstrap project {name}",
            enabled=True,
            extra={},
            tags=[],
        )
    role = {}
    for name in ("admin", "manager", "member", "reader", "service", *service_roles):
        role[name] = await _ensure(
            session, models.Role, {"name": name, "domain_id": models.GLOBAL}, options={}, extra={}
        )
    # As Keystone's bootstrap: admin > manager > member > reader; `service` stands alone.
    for prior, implied in (("admin", "manager"), ("manager", "member"), ("member", "reader")):
        await _ensure(
            session,
            models.ImpliedRole,
            {"prior_role_id": role[prior].id, "implied_role_id": role[implied].id},
        )
    creds = Credentials(
        admin_password=_password_file(data_dir / "admin-password"),
        demo_password=_password_file(data_dir / "demo-password"),
        projects={name: project.id for name, project in projects.items()},
    )
    for name, secret, project in (
        ("admin", creds.admin_password, "admin"),
        ("demo", creds.demo_password, "demo"),
    ):
        user = await _one(session, models.User, name=name, domain_id=DEFAULT_DOMAIN)
        if user is None:
            user = models.User(
                name=name,
                domain_id=DEFAULT_DOMAIN,
                enabled=True,
                extra={},
                options={},
                default_project_id=projects[project].id,
                password_hash=await passwords.hash_secret(secret, rounds),
            )
            session.add(user)
            await session.flush()
        grant = "admin" if name == "admin" else "member"
        await _ensure(
            session,
            models.Assignment,
            {
                "type": "UserProject",
                "actor_id": user.id,
                "target_id": projects[project].id,
                "role_id": role[grant].id,
                "inherited": False,
            },
        )
        if name == "admin":
            await _ensure(
                session,
                models.Assignment,
                {
                    "type": "UserSystem",
                    "actor_id": user.id,
                    "target_id": "system",
                    "role_id": role["admin"].id,
                    "inherited": False,
                },
            )
    await _ensure(session, models.Region, {"id": region}, description="", extra={})
    for entry in entries:
        await _catalog_entry(session, entry, region)
    return creds


async def _catalog_entry(session: AsyncSession, entry: CatalogEntry, region: str) -> None:
    service = await _ensure(
        session,
        models.Service,
        {"type": entry.type, "name": entry.name},
        enabled=True,
        description="",
        extra={},
    )
    for interface in ("public", "internal", "admin"):
        endpoint = await _ensure(
            session,
            models.Endpoint,
            {"service_id": service.id, "interface": interface},
            url=entry.url,
            region_id=region,
            enabled=True,
            extra={},
        )
        endpoint.url = entry.url
