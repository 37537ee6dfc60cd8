"""Host aggregates and availability zones: Nova's rules for creating, changing and filling them.

A host's availability zone is the `availability_zone` metadata of its aggregates, or the default
zone ("nova") when none has one; a host may not sit in two zones at once. Called by the
aggregates and availability-zone APIs, and by the scheduler to build host states.
"""

from __future__ import annotations

import re
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.compute.models.aggregates import Aggregate, AggregateHost, AggregateMetadata
from overcast.compute.models.hosts import Service
from overcast.compute.models.instances import Instance

DEFAULT_AZ = "nova"
INTERNAL_AZ = "internal"
AZ_KEY = "availability_zone"
_META_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")


def not_found(aggregate_id: object) -> errors.NotFound:
    return errors.NotFound(f"Aggregate {aggregate_id} could not be found.")


async def get(session: AsyncSession, aggregate_id: int) -> Aggregate:
    found = await session.get(Aggregate, aggregate_id)
    if found is None:
        raise not_found(aggregate_id)
    return found


async def list_all(session: AsyncSession) -> list[Aggregate]:
    return list((await session.execute(select(Aggregate).order_by(Aggregate.id))).scalars())


async def create(session: AsyncSession, name: str, availability_zone: str | None) -> Aggregate:
    await _check_name(session, name)
    meta = []
    if availability_zone is not None:
        _check_az_value("Cannot create aggregate", availability_zone, name)
        meta.append(AggregateMetadata(key=AZ_KEY, value=availability_zone))
    aggregate = Aggregate(name=name, hosts=[], meta=meta)
    session.add(aggregate)
    await session.flush()
    return aggregate


async def update(
    session: AsyncSession, aggregate: Aggregate, name: str | None, availability_zone: str | None
) -> Aggregate:
    """Rename and/or move to another zone (400 when the zone would conflict)."""
    if name is not None and name != aggregate.name:
        await _check_name(session, name)
        aggregate.name = name
    if availability_zone is not None:
        await _check_az_change(session, aggregate, availability_zone, "Cannot update aggregate")
        _set_meta(aggregate, {AZ_KEY: availability_zone})
    await session.flush()
    return aggregate


async def delete(session: AsyncSession, aggregate: Aggregate) -> None:
    if aggregate.hosts:
        raise errors.BadRequest(
            f"Cannot remove host from aggregate {aggregate.id}. Reason: Host aggregate is not "
            "empty."
        )
    await session.delete(aggregate)


async def set_metadata(
    session: AsyncSession, aggregate: Aggregate, metadata: dict[str, str | None]
) -> Aggregate:
    """Merge `metadata` into the aggregate's; a None value removes its key."""
    prefix = f"Cannot update metadata of aggregate {aggregate.id}"
    for key, value in metadata.items():
        if not isinstance(key, str) or not _META_KEY.match(key):
            raise errors.BadRequest(f"Invalid input for field/attribute metadata. Key: {key!r}.")
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise errors.BadRequest(
                f"Invalid input for field/attribute {key}. Value: {value}. must be a string of "
                "at most 255 characters or null"
            )
    if metadata.get(AZ_KEY) is not None:
        await _check_az_change(session, aggregate, str(metadata[AZ_KEY]), prefix)
    _set_meta(aggregate, metadata)
    await session.flush()
    return aggregate


async def add_host(session: AsyncSession, aggregate: Aggregate, host: str) -> Aggregate:
    """Add a compute host: 404 if no compute service has that host, 409 if it is already in,
    or already in another availability zone than this aggregate's."""
    service = await session.scalar(
        select(Service).where(Service.host == host, Service.binary == "nova-compute")
    )
    if service is None:
        raise errors.NotFound(f"Compute host {host} could not be found.")
    if host in aggregate.host_names:
        raise errors.Conflict(f"Aggregate {aggregate.id} already has host {host}.")
    zone = aggregate.availability_zone
    if zone is not None:
        theirs = (await host_zones(session, [host], besides=aggregate.id)).get(host, set())
        others = {az for az in theirs if az != zone}
        if others:
            raise errors.Conflict(
                f"Cannot add host to aggregate {aggregate.id}. Reason: One or more hosts already "
                f"in availability zone(s) {sorted(others)}."
            )
    aggregate.hosts.append(AggregateHost(host=host))
    await session.flush()
    return aggregate


async def remove_host(session: AsyncSession, aggregate: Aggregate, host: str) -> Aggregate:
    for member in aggregate.hosts:
        if member.host == host:
            aggregate.hosts.remove(member)
            await session.flush()
            return aggregate
    raise errors.NotFound(f"Aggregate {aggregate.id} has no host {host}.")


async def host_zones(
    session: AsyncSession, hosts: list[str] | None = None, *, besides: int | None = None
) -> dict[str, set[str]]:
    """The zones that aggregates (other than `besides`) give each host; hosts in no zoned
    aggregate are absent."""
    stmt = (
        select(AggregateHost.host, AggregateMetadata.value)
        .join(AggregateMetadata, AggregateMetadata.aggregate_id == AggregateHost.aggregate_id)
        .where(AggregateMetadata.key == AZ_KEY)
    )
    if hosts is not None:
        stmt = stmt.where(AggregateHost.host.in_(hosts))
    if besides is not None:
        stmt = stmt.where(AggregateHost.aggregate_id != besides)
    zones: dict[str, set[str]] = defaultdict(set)
    for host, value in (await session.execute(stmt)).all():
        zones[host].add(value)
    return dict(zones)


async def host_availability_zone(
    session: AsyncSession, host: str, default: str = DEFAULT_AZ
) -> str:
    """The zone of a compute host, as Nova shows it (several joined by commas, sorted); the
    default zone (`compute.default_availability_zone`) when no aggregate gives it one."""
    zones = (await host_zones(session, [host])).get(host)
    return ",".join(sorted(zones)) if zones else default


async def host_aggregates(session: AsyncSession) -> dict[str, list[dict[str, object]]]:
    """For host states: each host's aggregates as {id, uuid, name, availability_zone,
    metadata}."""
    out: dict[str, list[dict[str, object]]] = defaultdict(list)
    for agg in await list_all(session):
        view = {
            "id": agg.id,
            "uuid": agg.uuid,
            "name": agg.name,
            "availability_zone": agg.availability_zone,
            "metadata": agg.metadata_dict,
        }
        for host in agg.host_names:
            out[host].append(view)
    return dict(out)


def _set_meta(aggregate: Aggregate, metadata: dict[str, str | None]) -> None:
    current = {m.key: m for m in aggregate.meta}
    for key, value in metadata.items():
        if value is None:
            if key in current:
                aggregate.meta.remove(current.pop(key))
        elif key in current:
            current[key].value = value
        else:
            current[key] = AggregateMetadata(key=key, value=value)
            aggregate.meta.append(current[key])


async def _check_name(session: AsyncSession, name: str) -> None:
    if await session.scalar(select(Aggregate.id).where(Aggregate.name == name)) is not None:
        raise errors.Conflict(f"Aggregate {name} already exists.")


def _check_az_value(prefix: str, zone: str, name: object) -> None:
    if not zone.strip():
        raise errors.BadRequest(
            f"{prefix} {name}. Reason: Aggregate {name} does not support empty named "
            "availability zone."
        )
    if zone == INTERNAL_AZ:
        raise errors.BadRequest(
            f"{prefix} {name}. Reason: The availability zone {INTERNAL_AZ} is reserved for "
            "internal services."
        )


async def _check_az_change(
    session: AsyncSession, aggregate: Aggregate, zone: str, prefix: str
) -> None:
    """Nova's is_safe_to_update_az: no member host may end up in two zones, and a zone with
    instances may not be renamed under them."""
    _check_az_value(prefix, zone, aggregate.id)
    hosts = aggregate.host_names
    if not hosts or zone == aggregate.availability_zone:
        return
    zones = await host_zones(session, hosts, besides=aggregate.id)
    conflicting = sorted({z for zs in zones.values() for z in zs if z != zone})
    if conflicting:
        raise errors.BadRequest(
            f"{prefix} {aggregate.id}. Reason: One or more hosts already in availability "
            f"zone(s) {conflicting}."
        )
    count = await session.scalar(
        select(func.count())
        .select_from(Instance)
        .where(Instance.host.in_(hosts), Instance.deleted.is_(False))
    )
    if count:
        raise errors.BadRequest(
            f"{prefix} {aggregate.id}. Reason: One or more hosts contain instances in this zone."
        )
