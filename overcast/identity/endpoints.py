"""Services and their endpoints: the rows the catalog is built from.

Called by api/services.py and api/endpoints.py. An endpoint names an existing service and, if
any, an existing region (400 otherwise, as Keystone answers); deleting a service deletes its
endpoints. Every change drops the cached catalog (see `catalog.invalidate`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import new_id
from overcast.identity import models

INTERFACES = ("public", "internal", "admin")


async def get_service(session: AsyncSession, service_id: str) -> models.Service:
    service = await session.get(models.Service, service_id)
    if service is None:
        raise errors.NotFound(f"Could not find service: {service_id}.")
    return service


async def list_services(
    session: AsyncSession, type_: str | None = None, name: str | None = None
) -> list[models.Service]:
    stmt = select(models.Service).order_by(models.Service.type, models.Service.id)
    if type_ is not None:
        stmt = stmt.where(models.Service.type == type_)
    if name is not None:
        stmt = stmt.where(models.Service.name == name)
    return list((await session.execute(stmt)).scalars())


async def create_service(session: AsyncSession, values: dict[str, Any]) -> models.Service:
    service = models.Service(id=new_id(), **values)
    session.add(service)
    await session.flush()
    return service


async def delete_service(session: AsyncSession, service_id: str) -> None:
    service = await get_service(session, service_id)
    for endpoint in await list_endpoints(session, service_id=service_id):
        await session.delete(endpoint)
    await session.delete(service)


async def get_endpoint(session: AsyncSession, endpoint_id: str) -> models.Endpoint:
    endpoint = await session.get(models.Endpoint, endpoint_id)
    if endpoint is None:
        raise errors.NotFound(f"Could not find endpoint: {endpoint_id}.")
    return endpoint


async def list_endpoints(
    session: AsyncSession,
    service_id: str | None = None,
    interface: str | None = None,
    region_id: str | None = None,
) -> list[models.Endpoint]:
    E = models.Endpoint
    stmt = select(E).order_by(E.service_id, E.interface, E.id)
    for column, value in ((E.service_id, service_id), (E.interface, interface)):
        if value is not None:
            stmt = stmt.where(column == value)
    if region_id is not None:
        stmt = stmt.where(E.region_id == region_id)
    return list((await session.execute(stmt)).scalars())


async def _check_refs(session: AsyncSession, values: dict[str, Any]) -> None:
    if values.get("interface") is not None and values["interface"] not in INTERFACES:
        raise errors.BadRequest(
            f"Invalid input for field 'interface': must be one of {', '.join(INTERFACES)}."
        )
    service_id = values.get("service_id")
    if service_id is not None and await session.get(models.Service, service_id) is None:
        raise errors.BadRequest(f"Could not find service {service_id} for the endpoint.")
    region_id = values.get("region_id")
    if region_id is not None and await session.get(models.Region, region_id) is None:
        raise errors.BadRequest(f"Could not find region {region_id} for the endpoint.")


async def _legacy_region(session: AsyncSession, values: dict[str, Any]) -> None:
    region_id = values.get("region_id")
    if region_id and await session.get(models.Region, region_id) is None:
        session.add(models.Region(id=region_id, description="", parent_region_id=None, extra={}))
        await session.flush()


async def create_endpoint(
    session: AsyncSession, values: dict[str, Any], *, legacy_region: bool = False
) -> models.Endpoint:
    """Create an endpoint. Named by the old `region` field (`legacy_region`), a region that
    does not exist is created with it, as Keystone still does for old clients."""
    if legacy_region:
        await _legacy_region(session, values)
    await _check_refs(session, values)
    endpoint = models.Endpoint(id=new_id(), **values)
    session.add(endpoint)
    await session.flush()
    return endpoint


async def update(
    session: AsyncSession,
    row: models.Service | models.Endpoint,
    changes: dict[str, Any],
    extra: dict[str, Any],
    *,
    legacy_region: bool = False,
) -> None:
    """Apply a PATCH: known columns from `changes`, the rest merged into `extra` (an endpoint
    moved by the old `region` field creates its region, as on create)."""
    if isinstance(row, models.Endpoint):
        if legacy_region:
            await _legacy_region(session, changes)
        await _check_refs(session, changes)
    for key, value in changes.items():
        setattr(row, key, value)
    if extra:
        row.extra = {**(row.extra or {}), **extra}
    await session.flush()
