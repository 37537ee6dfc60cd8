"""Subnet pools (prefixes a subnet is carved from by prefix length) and address scopes."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from overcast.common.context import RequestContext
from overcast.network import attributes as a
from overcast.network import faults, quotas, standard
from overcast.network.kinds import Kind, Op
from overcast.network.models import AddressScope, Subnet, SubnetPool


def _shared_or_own(model: Any, ctx: RequestContext) -> ColumnElement[bool] | None:
    if ctx.is_admin:
        return None
    return or_(model.project_id == (ctx.project_id or ""), model.shared.is_(True))


async def pool_for(op: Op, pool_id: str) -> SubnetPool:
    stmt = select(SubnetPool).where(SubnetPool.id == pool_id)
    clause = _shared_or_own(SubnetPool, op.ctx)
    if clause is not None:
        stmt = stmt.where(clause)
    found = (await op.session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise faults.not_found("subnetpool", pool_id)
    return found


async def default_pool(op: Op, version: int) -> str:
    found = await op.session.scalar(
        select(SubnetPool.id).where(
            SubnetPool.is_default.is_(True), SubnetPool.ip_version == version
        )
    )
    if found is None:
        raise faults.bad(
            f"Bad subnets request: no default subnet pool for IPv{version}.", "BadRequest"
        )
    return str(found)


async def carve(op: Op, pool: SubnetPool, cidr: str | None, prefixlen: int | None) -> str:
    """A CIDR from `pool`: the one asked for if it is free, else the first free prefix of
    `prefixlen` (the pool's default length when none is given)."""
    used = [
        ipaddress.ip_network(c)
        for c in await op.session.scalars(
            select(Subnet.cidr).where(Subnet.subnetpool_id == pool.id)
        )
    ]
    prefixes = [ipaddress.ip_network(p) for p in pool.prefixes]
    if cidr is not None:
        wanted = ipaddress.ip_network(cidr)
        if not any(wanted.subnet_of(p) for p in prefixes if p.version == wanted.version):  # type: ignore[arg-type]
            raise faults.bad(
                f"Cidr {cidr} is not within any prefix of subnet pool {pool.id}.",
                "IllegalSubnetPoolPrefixBounds",
            )
        if any(wanted.overlaps(u) for u in used):  # type: ignore[arg-type]
            raise faults.conflict(
                f"Subnet allocation of {cidr} from subnet pool {pool.id} failed: it overlaps a subnet already allocated.",
                "SubnetAllocationError",
            )
        return str(wanted)
    length = prefixlen if prefixlen is not None else pool.default_prefixlen
    if not pool.min_prefixlen <= length <= pool.max_prefixlen:
        raise faults.bad(
            f"Illegal prefix bounds: prefixlen {length} must be between {pool.min_prefixlen} and {pool.max_prefixlen}.",
            "IllegalSubnetPoolPrefixBounds",
        )
    for prefix in prefixes:
        if length < prefix.prefixlen:
            continue
        for candidate in prefix.subnets(new_prefix=length):
            if not any(candidate.overlaps(u) for u in used):  # type: ignore[arg-type]
                return str(candidate)
    raise faults.conflict(
        f"Insufficient prefix space to allocate subnet size /{length}.", "SubnetAllocationError"
    )


def _prefixes(value: Any) -> list[str]:
    items = a.list_of(a.cidr)(value)
    if not items:
        raise faults.bad(
            "Invalid input for prefixes. Reason: at least one prefix is required.", "HTTPBadRequest"
        )
    versions = {ipaddress.ip_network(p).version for p in items}
    if len(versions) > 1:
        raise faults.bad(
            "Invalid input for operation: prefixes must all be of one IP version.", "InvalidInput"
        )
    return [str(n) for n in ipaddress.collapse_addresses(ipaddress.ip_network(p) for p in items)]  # type: ignore[misc]


class SubnetPools(Kind):
    name = "subnetpool"
    collection = "subnetpools"
    path = "subnetpools"
    model = SubnetPool
    attrs = a.standard(
        name=a.name_attr(),
        prefixes=a.Attr(convert=_prefixes, put=True, default=a.MISSING, filter=False, sort=False),
        default_prefixlen=a.Attr(convert=a.integer(0, 128), put=True),
        min_prefixlen=a.Attr(convert=a.integer(0, 128), put=True),
        max_prefixlen=a.Attr(convert=a.integer(0, 128), put=True),
        default_quota=a.Attr(convert=a.integer(0, nullable=True), put=True),
        shared=a.Attr(convert=a.boolean, default=False),
        is_default=a.Attr(convert=a.boolean, put=True, default=False),
        address_scope_id=a.Attr(convert=a.uuid_or_none, put=True),
        ip_version=a.Attr(post=False),
    )

    def visible(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        return _shared_or_own(SubnetPool, ctx)

    async def views(self, op: Op, rows: Sequence[SubnetPool]) -> list[dict[str, Any]]:
        tags = await standard.tags_of(op.session, [r.id for r in rows])
        out = []
        for row in rows:
            body = standard.fields(row, tags.get(row.id))
            body.update(
                name=row.name,
                prefixes=list(row.prefixes),
                default_prefixlen=row.default_prefixlen,
                min_prefixlen=row.min_prefixlen,
                max_prefixlen=row.max_prefixlen,
                default_quota=row.default_quota,
                shared=row.shared,
                is_default=row.is_default,
                address_scope_id=row.address_scope_id,
                ip_version=row.ip_version,
            )
            out.append(body)
        return out

    async def create(self, op: Op, values: dict[str, Any]) -> SubnetPool:
        project = values.get("project_id") or op.ctx.project_id or ""
        await quotas.check(op.session, op.st.settings.network.default_quotas, "subnetpool", project)
        version = ipaddress.ip_network(values["prefixes"][0]).version
        top = 32 if version == 4 else 128
        low = values.get(
            "min_prefixlen", min(ipaddress.ip_network(p).prefixlen for p in values["prefixes"])
        )
        high = values.get("max_prefixlen", top)
        default = values.get("default_prefixlen", low)
        if not low <= default <= high <= top:
            raise faults.bad(
                "Illegal prefix bounds: min_prefixlen <= default_prefixlen <= max_prefixlen must hold.",
                "IllegalSubnetPoolPrefixBounds",
            )
        await _check_scope(op, values.get("address_scope_id"), version)
        row = SubnetPool(
            project_id=project,
            name=values["name"],
            description=values["description"],
            ip_version=version,
            prefixes=values["prefixes"],
            default_prefixlen=default,
            min_prefixlen=low,
            max_prefixlen=high,
            default_quota=values.get("default_quota"),
            shared=values["shared"],
            is_default=values["is_default"],
            address_scope_id=values.get("address_scope_id"),
        )
        op.session.add(row)
        await op.session.flush()
        return row

    async def update(self, op: Op, row: SubnetPool, values: dict[str, Any]) -> SubnetPool:
        if "prefixes" in values:
            old = [ipaddress.ip_network(p) for p in row.prefixes]
            new = [ipaddress.ip_network(p) for p in values["prefixes"]]
            if any(not any(o.subnet_of(n) for n in new if n.version == o.version) for o in old):  # type: ignore[arg-type]
                raise faults.bad(
                    "Illegal update to prefixes: existing prefixes may only grow.",
                    "IllegalSubnetPoolPrefixUpdate",
                )
        if "address_scope_id" in values:
            await _check_scope(op, values["address_scope_id"], row.ip_version)
        return await super().update(op, row, values)

    async def delete(self, op: Op, row: SubnetPool) -> None:
        used = await op.session.scalar(
            select(Subnet.id).where(Subnet.subnetpool_id == row.id).limit(1)
        )
        if used is not None:
            raise faults.conflict(
                f"Unable to delete subnet pool: Subnet pool {row.id} has subnets allocated.",
                "SubnetPoolDeleteError",
            )
        await op.session.delete(row)


async def _check_scope(op: Op, scope_id: str | None, version: int) -> None:
    if scope_id is None:
        return
    stmt = select(AddressScope).where(AddressScope.id == scope_id)
    clause = _shared_or_own(AddressScope, op.ctx)
    if clause is not None:
        stmt = stmt.where(clause)
    scope = (await op.session.execute(stmt)).scalar_one_or_none()
    if scope is None:
        raise faults.not_found("address_scope", scope_id)
    if scope.ip_version != version:
        raise faults.bad(
            f"Illegal subnetpool association: subnetpool of IPv{version} cannot be associated with address scope {scope_id} of IPv{scope.ip_version}.",
            "IllegalSubnetPoolAssociationToAddressScope",
        )


class AddressScopes(Kind):
    name = "address_scope"
    collection = "address_scopes"
    path = "address-scopes"
    model = AddressScope
    attrs = a.standard(
        name=a.name_attr(),
        ip_version=a.Attr(convert=a.one_of(4, 6), default=a.MISSING),
        shared=a.Attr(convert=a.boolean, put=True, default=False),
    )

    def visible(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        return _shared_or_own(AddressScope, ctx)

    async def views(self, op: Op, rows: Sequence[AddressScope]) -> list[dict[str, Any]]:
        tags = await standard.tags_of(op.session, [r.id for r in rows])
        out = []
        for row in rows:
            body = standard.fields(row, tags.get(row.id))
            body.update(name=row.name, ip_version=row.ip_version, shared=row.shared)
            out.append(body)
        return out

    async def create(self, op: Op, values: dict[str, Any]) -> AddressScope:
        project = values.get("project_id") or op.ctx.project_id or ""
        row = AddressScope(
            project_id=project,
            name=values["name"],
            description=values["description"],
            ip_version=values["ip_version"],
            shared=values["shared"],
        )
        op.session.add(row)
        await op.session.flush()
        return row

    async def delete(self, op: Op, row: AddressScope) -> None:
        used = await op.session.scalar(
            select(SubnetPool.id).where(SubnetPool.address_scope_id == row.id).limit(1)
        )
        if used is not None:
            raise faults.conflict(
                f"Unable to complete operation on address scope {row.id}. There are one or more subnet pools in use on the address scope.",
                "AddressScopeInUse",
            )
        await op.session.delete(row)
