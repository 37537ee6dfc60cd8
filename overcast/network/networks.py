"""Networks: provider attributes and multi-segment networks, `router:external`, `shared`,
MTU, port security and availability zone hints. Segmentation ids come from `segments`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.context import RequestContext
from overcast.network import attributes as a
from overcast.network import faults, quotas, segments, standard
from overcast.network.kinds import Kind, Op, owner_or_clause, rbac_targets
from overcast.network.models import FloatingIP, Network, Port, PortForwarding, Segment, Subnet

PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")

_segment = a.dict_of(
    {},
    {
        "provider:network_type": a.one_of(*segments.TYPES),
        "provider:physical_network": a.string(64, nullable=True),
        "provider:segmentation_id": a.integer(0, nullable=True),
    },
)


def network_visible(ctx: RequestContext) -> ColumnElement[bool] | None:
    """Own networks, shared and external ones, and those an RBAC policy grants."""
    if ctx.is_admin:
        return None
    return owner_or_clause(
        Network,
        ctx,
        Network.shared.is_(True),
        Network.external.is_(True),
        Network.id.in_(rbac_targets(ctx, "network", "access_as_shared")),
        Network.id.in_(rbac_targets(ctx, "network", "access_as_external")),
    )


_NETWORK = select(Network).where(Network.id == bindparam("network_id"))  # built once
WITH_SUBNETS = (
    select(Network, Subnet)
    .outerjoin(Subnet, Subnet.network_id == Network.id)
    .where(Network.id == bindparam("network_id"))
    .order_by(Subnet.created_at, Subnet.id)
)


async def network_for(op: Op, network_id: str, *, subnets: bool = False) -> Network:
    """A network the caller may see (and so use), or NetworkNotFound. With `subnets`, its
    subnets come in the same statement, kept for the request's next `fixed_ips.subnets_of`
    of it (a port's create reads both: one statement, not two)."""
    known = op.memo.get(("network", network_id))
    if known is not None:
        return known  # type: ignore[no-any-return]
    if subnets:
        return (await with_subnets(op, network_id, WITH_SUBNETS))[0][0]  # type: ignore[no-any-return]
    clause = network_visible(op.ctx)
    stmt = _NETWORK if clause is None else _NETWORK.where(clause)
    found = (await op.session.execute(stmt, {"network_id": network_id})).scalar_one_or_none()
    if found is None:
        raise faults.not_found("network", network_id)
    op.memo[("network", network_id)] = found
    return found


async def with_subnets(op: Op, network_id: str, stmt: Any, **params: Any) -> Sequence[Any]:
    """`network_for(subnets=True)` with the statement `stmt`: `WITH_SUBNETS`, or it with more
    columns (read in the same trip, bound by `params`). Its rows (network, subnet, *more),
    one a subnet (one with subnet None when there is none)."""
    clause = network_visible(op.ctx)
    if clause is not None:
        stmt = stmt.where(clause)
    rows = (await op.session.execute(stmt, {"network_id": network_id, **params})).all()
    if not rows:
        raise faults.not_found("network", network_id)
    op.memo[("subnets", network_id)] = [row[1] for row in rows if row[1] is not None]
    op.memo[("network", network_id)] = rows[0][0]
    return rows


async def shared_with(session: AsyncSession, network: Network, project_id: str) -> bool:
    """Whether `project_id` may attach to `network` without owning it."""
    if network.shared or network.project_id == project_id:
        return True
    found = await session.scalar(
        select(func.count()).where(
            Network.id == network.id,
            Network.id.in_(
                rbac_targets(RequestContext(project_id=project_id), "network", "access_as_shared")
            ),
        )
    )
    return bool(found)


class Networks(Kind):
    name = "network"
    collection = "networks"
    path = "networks"
    model = Network
    attrs = a.standard(
        name=a.name_attr(),
        admin_state_up=a.Attr(convert=a.boolean, put=True, default=True),
        status=a.Attr(post=False),
        shared=a.Attr(convert=a.boolean, put=True, default=False),
        **{
            "router:external": a.Attr(convert=a.boolean, put=True, default=False, column="external")
        },
        mtu=a.Attr(convert=a.integer(68), put=True),
        port_security_enabled=a.Attr(convert=a.boolean, put=True, default=True),
        availability_zone_hints=a.Attr(
            convert=a.list_of(a.string(255)), default=list, filter=False, sort=False
        ),
        availability_zones=a.Attr(post=False, filter=False, sort=False),
        subnets=a.Attr(post=False, filter=False, sort=False),
        segments=a.Attr(convert=a.list_of(_segment, unique=False), filter=False, sort=False),
        is_default=a.Attr(convert=a.boolean, put=True, default=False),
        dns_domain=a.Attr(convert=a.dns_name, put=True, default=""),
        ipv4_address_scope=a.Attr(post=False, filter=False, sort=False),
        ipv6_address_scope=a.Attr(post=False, filter=False, sort=False),
        l2_adjacency=a.Attr(post=False, filter=False, sort=False),
        qos_policy_id=a.Attr(convert=a.uuid_or_none, put=True, filter=False, sort=False),
        **{
            "provider:network_type": a.Attr(convert=a.one_of(*segments.TYPES), sort=False),
            "provider:physical_network": a.Attr(convert=a.string(64, nullable=True), sort=False),
            "provider:segmentation_id": a.Attr(convert=a.integer(0, nullable=True), sort=False),
        },
    )
    guarded = (*PROVIDER, "segments")

    def visible(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        return network_visible(ctx)

    def filter_clause(self, op: Op, key: str, values: list[str]) -> ColumnElement[bool] | None:
        column = {
            "provider:network_type": Segment.network_type,
            "provider:physical_network": Segment.physical_network,
            "provider:segmentation_id": Segment.segmentation_id,
        }.get(key)
        if column is None:
            return None
        wanted: list[Any] = [int(v) for v in values] if key.endswith("_id") else values
        return exists().where(Segment.network_id == Network.id, column.in_(wanted))

    def target(self, view: dict[str, Any]) -> dict[str, Any]:
        return {
            "project_id": view.get("project_id", ""),
            "tenant_id": view.get("project_id", ""),
            "shared": view.get("shared", False),
            "router:external": view.get("router:external", False),
        }

    async def views(self, op: Op, rows: Sequence[Network]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        tags = await standard.tags_of(op.session, ids)
        subnets: dict[str, list[str]] = {}
        segs: dict[str, list[Segment]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found = await op.session.execute(
                select(Subnet.network_id, Subnet.id).where(Subnet.network_id.in_(chunk))
            )
            for network_id, subnet_id in found:
                subnets.setdefault(network_id, []).append(subnet_id)
            for seg in (
                await op.session.execute(
                    select(Segment)
                    .where(Segment.network_id.in_(chunk))
                    .order_by(Segment.segment_index)
                )
            ).scalars():
                segs.setdefault(seg.network_id, []).append(seg)
        return [
            self.view(r, tags.get(r.id), subnets.get(r.id, []), segs.get(r.id, [])) for r in rows
        ]

    def view(
        self, row: Network, tags: list[str] | None, subnets: list[str], segs: list[Segment]
    ) -> dict[str, Any]:
        body = standard.fields(row, tags)
        body.update(
            {
                "name": row.name,
                "admin_state_up": row.admin_state_up,
                "status": row.status,
                "shared": row.shared,
                "router:external": row.external,
                "mtu": row.mtu,
                "port_security_enabled": row.port_security_enabled,
                "availability_zone_hints": list(row.availability_zone_hints or []),
                "availability_zones": list(row.availability_zone_hints or []) or ["nova"],
                "subnets": sorted(subnets),
                "is_default": row.is_default,
                "dns_domain": row.dns_domain,
                "ipv4_address_scope": None,
                "ipv6_address_scope": None,
                "l2_adjacency": True,
                "qos_policy_id": None,
            }
        )
        if len(segs) == 1:
            seg = segs[0]
            body["provider:network_type"] = seg.network_type
            body["provider:physical_network"] = seg.physical_network
            body["provider:segmentation_id"] = seg.segmentation_id
        elif segs:
            body["segments"] = [
                {
                    "provider:network_type": s.network_type,
                    "provider:physical_network": s.physical_network,
                    "provider:segmentation_id": s.segmentation_id,
                }
                for s in segs
            ]
        return body

    async def create(self, op: Op, values: dict[str, Any]) -> Network:
        specs = _specs(op, values)
        project = values.get("project_id") or op.ctx.project_id or ""
        await quotas.check(op.session, op.st.settings.network.default_quotas, "network", project)
        row = Network(
            project_id=project,
            name=values["name"],
            description=values["description"],
            admin_state_up=values["admin_state_up"],
            shared=values["shared"],
            external=values["router:external"],
            port_security_enabled=values["port_security_enabled"],
            availability_zone_hints=values["availability_zone_hints"],
            is_default=values["is_default"],
            dns_domain=values["dns_domain"],
        )
        _check_zones(op, values["availability_zone_hints"])
        op.session.add(row)
        await op.session.flush()
        made = await segments.allocate(op.session, op.st.ranges, row.id, specs)
        largest = min(op.st.ranges.mtu(s.network_type) for s in made)
        mtu = values.get("mtu")
        if mtu is not None and mtu > largest:
            raise faults.bad(
                f"Invalid input for operation: Requested MTU is too big, maximum is {largest}.",
                "InvalidInput",
            )
        row.mtu = mtu or largest
        return row

    async def update(self, op: Op, row: Network, values: dict[str, Any]) -> Network:
        if values.get("shared") is False and row.shared:
            await _refuse_unshare(op.session, row)
        if values.get("router:external") is False and row.external:
            used = await op.session.scalar(
                select(func.count())
                .select_from(Port)
                .where(
                    Port.network_id == row.id,
                    Port.device_owner.in_(("network:router_gateway", "network:floatingip")),
                )
            )
            if used:
                raise faults.in_use(
                    "network",
                    row.id,
                    "There are one or more floating IPs or router gateways in use on the network.",
                )
        if "mtu" in values:
            segs = (
                await op.session.execute(select(Segment).where(Segment.network_id == row.id))
            ).scalars()
            largest = min(op.st.ranges.mtu(s.network_type) for s in segs)
            if values["mtu"] > largest:
                raise faults.bad(
                    f"Invalid input for operation: Requested MTU is too big, maximum is {largest}.",
                    "InvalidInput",
                )
        for key in (
            "name",
            "description",
            "admin_state_up",
            "shared",
            "mtu",
            "port_security_enabled",
            "is_default",
            "dns_domain",
        ):
            if key in values:
                setattr(row, key, values[key])
        if "router:external" in values:
            row.external = values["router:external"]
        return row

    async def delete(self, op: Op, row: Network) -> None:
        # An external network takes its floating IPs that no port holds with it, as Neutron's
        # does; a held one keeps its port, so the network stays in use.
        for fip in (
            await op.session.execute(
                select(FloatingIP).where(
                    FloatingIP.floating_network_id == row.id, FloatingIP.port_id.is_(None)
                )
            )
        ).scalars():
            await delete_floating_ip(op, fip)
        busy = await op.session.scalar(
            select(func.count())
            .select_from(Port)
            .where(Port.network_id == row.id, Port.device_owner.not_in(("network:dhcp",)))
        )
        if busy:
            raise faults.in_use(
                "network", row.id, "There are one or more ports still in use on the network."
            )
        for port in (
            await op.session.execute(select(Port).where(Port.network_id == row.id))
        ).scalars():
            await op.session.delete(port)
        await op.session.flush()
        for subnet in (
            await op.session.execute(select(Subnet).where(Subnet.network_id == row.id))
        ).scalars():
            await op.session.delete(subnet)
        await op.session.flush()
        await op.session.delete(row)


async def delete_floating_ip(op: Op, fip: FloatingIP) -> None:
    """Deletes a floating IP, its port forwardings and its port on the external network.
    Here rather than in `floating_ips`, which imports this module: a network's delete needs it."""
    await op.session.execute(delete(PortForwarding).where(PortForwarding.floatingip_id == fip.id))
    await op.session.delete(fip)
    await op.session.flush()
    await op.session.execute(delete(Port).where(Port.id == fip.floating_port_id))
    op.routers_changed()


def _specs(op: Op, values: dict[str, Any]) -> list[dict[str, Any]]:
    given = {k: values[k] for k in PROVIDER if k in values}
    segs = values.get("segments")
    if given and segs:
        raise faults.bad(
            "Invalid input for operation: Segments and provider values cannot both be set.",
            "InvalidInput",
        )
    if given:
        return [segments.validate(op.st.ranges, given)]
    specs = [segments.validate(op.st.ranges, s) for s in segs or []]
    seen = {(s["network_type"], s["physical_network"], s["segmentation_id"]) for s in specs}
    if len(seen) != len(specs):
        raise faults.bad("Duplicate segment entry in request.", "SegmentsContainDuplicateEntry")
    return specs


def _check_zones(op: Op, hints: list[str]) -> None:
    known = set(op.st.settings.network.default_availability_zones)
    for zone in hints:
        if zone not in known:
            raise faults.not_found("availability_zone", zone)


async def _refuse_unshare(session: AsyncSession, row: Network) -> None:
    others = await session.scalar(
        select(func.count())
        .select_from(Port)
        .where(
            Port.network_id == row.id,
            Port.project_id != row.project_id,
            Port.device_owner != "network:dhcp",
        )
    )
    if others:
        raise faults.in_use(
            "network", row.id, "There are one or more ports still in use on the network."
        )
