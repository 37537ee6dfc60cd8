"""Ports: fixed IPs through IPAM, MACs from the configured base, device owner and id, the
binding attributes, security groups, allowed address pairs, port security, extra DHCP options
and `dns_name`. A port starts DOWN; the host's agent makes it ACTIVE once its driver has wired
it (see `network/agent`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, insert, or_, select

from overcast.common import errors, log
from overcast.common.context import RequestContext
from overcast.common.db import inserts
from overcast.network import attributes as a
from overcast.network import (
    bindings,
    faults,
    fixed_ips,
    networks,
    quotas,
    security_groups,
    standard,
)
from overcast.network.kinds import Kind, Op, network_owner
from overcast.network.models import (
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortSecurityGroup,
    SecurityGroup,
)

_fixed_ip = a.dict_of({}, {"subnet_id": a.uuid_, "ip_address": a.ip_address})
_pair = a.dict_of({"ip_address": a.address_or_cidr}, {"mac_address": a.mac})
_dhcp_opt = a.dict_of(
    {"opt_name": a.string(64), "opt_value": a.string(255, nullable=True)},
    {"ip_version": a.one_of(4, 6)},
)
VNIC_TYPES = (
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "remote-managed",
    "vdpa",
)
BINDING = ("binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details")
_RNG = random.Random()
LOG = log.get(__name__)


def new_mac(base: str) -> str:
    head = base.split(":")[:3]
    return ":".join(head + [f"{_RNG.randrange(256):02x}" for _ in range(3)])


class Ports(Kind):
    name = "port"
    collection = "ports"
    path = "ports"
    model = Port
    attrs = a.standard(
        name=a.name_attr(),
        network_id=a.Attr(convert=a.uuid_, default=a.MISSING),
        admin_state_up=a.Attr(convert=a.boolean, put=True, default=True),
        mac_address=a.Attr(convert=a.mac, put=True),
        fixed_ips=a.Attr(convert=a.list_of(_fixed_ip, unique=False), put=True, sort=False),
        device_id=a.Attr(convert=a.string(255), put=True, default=""),
        device_owner=a.Attr(convert=a.string(255), put=True, default=""),
        status=a.Attr(post=False),
        security_groups=a.Attr(convert=a.list_of(a.uuid_), put=True, sort=False),
        allowed_address_pairs=a.Attr(
            convert=a.list_of(_pair, unique=False), put=True, default=list, filter=False, sort=False
        ),
        port_security_enabled=a.Attr(convert=a.boolean, put=True, filter=False, sort=False),
        extra_dhcp_opts=a.Attr(
            convert=a.list_of(_dhcp_opt, unique=False),
            put=True,
            default=list,
            filter=False,
            sort=False,
        ),
        dns_name=a.Attr(convert=a.dns_name, put=True, default=""),
        dns_domain=a.Attr(convert=a.dns_name, put=True, default=""),
        dns_assignment=a.Attr(post=False, filter=False, sort=False),
        propagate_uplink_status=a.Attr(convert=a.boolean, put=True, default=False, filter=False),
        ip_allocation=a.Attr(post=False, filter=False, sort=False),
        **{
            "binding:host_id": a.Attr(convert=a.string(255), put=True, column="host"),
            "binding:vnic_type": a.Attr(
                convert=a.one_of(*VNIC_TYPES), put=True, default="normal", column="vnic_type"
            ),
            "binding:profile": a.Attr(
                convert=a.free_dict, put=True, filter=False, sort=False, column="profile"
            ),
            "binding:vif_type": a.Attr(post=False, column="vif_type"),
            "binding:vif_details": a.Attr(
                post=False, filter=False, sort=False, column="vif_details"
            ),
        },
    )
    guarded = BINDING

    def visible(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        if ctx.is_admin:
            return None
        project = ctx.project_id or ""
        return or_(
            Port.project_id == project,
            Port.network_id.in_(select(Network.id).where(Network.project_id == project)),
        )

    def filter_clause(self, op: Op, key: str, values: list[str]) -> ColumnElement[bool] | None:
        if key == "fixed_ips":
            parts = []
            for value in values:
                field, _, wanted = value.partition("=")
                if field == "ip_address":
                    parts.append(IPAllocation.ip_address == wanted)
                elif field == "subnet_id":
                    parts.append(IPAllocation.subnet_id == wanted)
                elif field == "ip_address_substr":
                    parts.append(IPAllocation.ip_address.contains(wanted))
                else:
                    raise faults.bad(
                        f"[fixed_ips] filter {field} is not supported", "HTTPBadRequest"
                    )
            return and_(*(exists().where(IPAllocation.port_id == Port.id, p) for p in parts))
        if key == "security_groups":
            return exists().where(
                PortSecurityGroup.port_id == Port.id,
                PortSecurityGroup.security_group_id.in_(values),
            )
        return None

    def target(self, view: dict[str, Any]) -> dict[str, Any]:
        return {
            "project_id": view.get("project_id", ""),
            "tenant_id": view.get("project_id", ""),
            "network_project_id": view.get("network_project_id", ""),
            "device_owner": view.get("device_owner", ""),
        }

    async def target_of(self, op: Op, row: Any, view: dict[str, Any]) -> dict[str, Any]:
        return {**self.target(view), "network_project_id": await network_owner(op, row.network_id)}

    async def create_target(self, op: Op, values: dict[str, Any]) -> dict[str, Any]:
        project = values.get("project_id") or op.ctx.project_id or ""
        net = await _create_reads(op, values["network_id"], project)
        return {
            "project_id": project,
            "tenant_id": project,
            "network_project_id": net.project_id,
            "device_owner": values.get("device_owner", ""),
        }

    async def views(self, op: Op, rows: Sequence[Port]) -> list[dict[str, Any]]:
        made = {r.id: op.made[r.id] for r in rows if "fixed_ips" in op.made.get(r.id, {})}
        ids = [r.id for r in rows if r.id not in made]
        tags = await standard.tags_of(op.session, ids)
        ips: dict[str, list[dict[str, str]]] = {}
        groups: dict[str, list[str]] = {}
        for port_id, known in made.items():
            tags[port_id], ips[port_id] = known["tags"], known["fixed_ips"]
            groups[port_id] = known["security_groups"]
        for alloc in await fixed_ips.allocations(op, ids):
            ips.setdefault(alloc.port_id, []).append(
                {"subnet_id": alloc.subnet_id, "ip_address": alloc.ip_address}
            )
        for start in range(0, len(ids), 500):
            found = await op.session.execute(
                select(PortSecurityGroup).where(
                    PortSecurityGroup.port_id.in_(ids[start : start + 500])
                )
            )
            for link in found.scalars():
                groups.setdefault(link.port_id, []).append(link.security_group_id)
        if len(rows) == 1:  # a delete needs them again, unchanged
            op.memo[("port_groups", rows[0].id)] = groups.get(rows[0].id, [])
        return [view(r, tags.get(r.id), ips.get(r.id, []), groups.get(r.id, [])) for r in rows]

    async def create(self, op: Op, values: dict[str, Any]) -> Port:
        net = await networks.network_for(op, values["network_id"])
        project = values.get("project_id") or op.ctx.project_id or ""
        if not op.admin and not await networks.shared_with(op.session, net, project):
            raise (
                faults.not_found("network", net.id)
                if not net.external
                else faults.forbidden("create_port")
            )
        settings = op.st.settings.network
        limit = op.memo.pop(("port_limit", project), None)
        await quotas.check(op.session, settings.default_quotas, "port", project, limit=limit)
        mac = values.get("mac_address")
        if mac is not None:
            await _check_mac(op, net.id, mac)
        secure = values.get("port_security_enabled", net.port_security_enabled)
        row = await inserts.insert_row(
            op.session,
            Port,
            project_id=project,
            name=values["name"],
            description=values["description"],
            network_id=net.id,
            mac_address=mac or new_mac(settings.base_mac),
            admin_state_up=values["admin_state_up"],
            device_id=values["device_id"],
            device_owner=values["device_owner"],
            host=values.get("binding:host_id", ""),
            vnic_type=values["binding:vnic_type"],
            profile=values.get("binding:profile", {}),
            port_security_enabled=secure,
            allowed_address_pairs=values["allowed_address_pairs"],
            extra_dhcp_opts=values["extra_dhcp_opts"],
            dns_name=values["dns_name"],
            dns_domain=values["dns_domain"],
            propagate_uplink_status=values["propagate_uplink_status"],
        )
        held = await fixed_ips.assign(op, row, net, values.get("fixed_ips"))
        groups = await _set_groups(op, row, values.get("security_groups"), created=True)
        _check_pairs(row)
        await bindings.bind(op.session, row, settings.agent_down_time)
        _tell_agent(op, row.host, row.id, row.network_id)
        await security_groups.members_changed(op, groups)
        op.made[row.id] = {
            "fixed_ips": [{"subnet_id": s, "ip_address": ip} for s, ip in held],
            "security_groups": groups,
        }
        return row

    async def update(self, op: Op, row: Port, values: dict[str, Any]) -> Port:
        net = await op.session.get(Network, row.network_id)
        assert net is not None
        old_host = row.host
        if "mac_address" in values and values["mac_address"] != row.mac_address:
            if row.host and row.vif_type not in (bindings.UNBOUND, bindings.FAILED):
                raise faults.conflict(
                    f"Port {row.id} is bound: its MAC address cannot change.", "PortBound"
                )
            await _check_mac(op, net.id, values["mac_address"])
        members = {"fixed_ips", "security_groups", "port_security_enabled", "allowed_address_pairs"}
        members &= set(values)
        before = await _groups_of(op, row.id) if members else []
        if "fixed_ips" in values:
            await fixed_ips.change(op, row, net, values["fixed_ips"])
        simple = (
            "name",
            "description",
            "admin_state_up",
            "mac_address",
            "device_id",
            "device_owner",
            "allowed_address_pairs",
            "extra_dhcp_opts",
            "dns_name",
            "dns_domain",
            "propagate_uplink_status",
            "port_security_enabled",
        )
        for key in simple:
            if key in values:
                setattr(row, key, values[key])
        for key, column in (
            ("binding:host_id", "host"),
            ("binding:vnic_type", "vnic_type"),
            ("binding:profile", "profile"),
        ):
            if key in values:
                setattr(row, column, values[key])
        if "security_groups" in values or values.get("port_security_enabled") is False:
            await _set_groups(op, row, values.get("security_groups"), created=False)
        _check_pairs(row)
        if {"binding:host_id", "binding:vnic_type", "binding:profile"} & set(values):
            await bindings.bind(op.session, row, op.st.settings.network.agent_down_time)
            row.status = "DOWN"
        _tell_agent(op, row.host, row.id, row.network_id)
        if old_host != row.host:
            _tell_agent(op, old_host, row.id, row.network_id)
        if members:
            await security_groups.members_changed(op, before + await _groups_of(op, row.id))
        return row

    async def delete(self, op: Op, row: Port) -> None:
        if (
            row.device_owner
            in (*fixed_ips.ROUTER_OWNERS, "network:router_gateway", "network:floatingip")
            and not op.ctx.is_admin
        ):
            raise faults.conflict(
                f"Port {row.id} cannot be deleted directly via the port API: has device owner {row.device_owner}.",
                "L3PortInUse",
            )
        for fip in (
            await op.session.execute(select(FloatingIP).where(FloatingIP.port_id == row.id))
        ).scalars():
            fip.port_id = fip.fixed_ip_address = fip.router_id = None
            fip.status = "DOWN"
            standard.bump(fip)
            op.routers_changed()
        _tell_agent(op, row.host, row.id, row.network_id)
        viewed = op.memo.get(("port_groups", row.id))  # by the delete's own view
        await security_groups.members_changed(
            op, viewed if viewed is not None else await _groups_of(op, row.id)
        )
        await op.session.delete(row)


# A port create's reads in one statement: its network and subnets, the project's own port
# quota, its default security group and whether a rule names that as remote group.
_CREATE_READS = networks.WITH_SUBNETS.add_columns(
    quotas.own_limit("port"), *security_groups.DEFAULT_FOR_PORT
)


async def _create_reads(op: Op, network_id: str, project: str) -> Network:
    """The network a port is made on (NetworkNotFound unless the caller sees it), read with
    its subnets, the project's port limit and default group, kept in `op.memo` for the
    create's `fixed_ips.assign`, `quotas.check` and `security_groups.default_for_port`.
    A network read before in the request (a bulk create's later ports) is not read again."""
    known = op.memo.get(("network", network_id))
    if known is not None:
        return known  # type: ignore[no-any-return]
    rows = await networks.with_subnets(op, network_id, _CREATE_READS, project_id=project)
    net, _subnet, own, group, named = rows[0]
    op.memo[("port_limit", project)] = quotas.limit_of(
        op.st.settings.network.default_quotas, "port", own
    )
    op.memo[("default_group", project)] = (group, named)
    return net  # type: ignore[no-any-return]


async def _groups_of(op: Op, port_id: str) -> list[str]:
    await op.session.flush()
    found = await op.session.scalars(
        select(PortSecurityGroup.security_group_id).where(PortSecurityGroup.port_id == port_id)
    )
    return list(found)


def _tell_agent(op: Op, host: str, port_id: str, network_id: str) -> None:
    """After commit, ask `host`'s agent to wire (or unwire) the port now, and tell the other
    agents (DHCP host entries, VXLAN flooding entries: `ports_moved`)."""
    if not host:
        return
    bus = op.st.bus

    async def cast() -> None:
        try:
            await bus.cast(f"network-agent.{host}", "port_changed", {}, port_id=port_id)
        except errors.ServiceUnavailable:
            LOG.info(
                "no network agent on the port's host",
                extra={"fields": {"host": host, "port": port_id}},
            )
        await bus.fanout("network-agent", "ports_moved", {}, network_id=network_id, host=host)

    op.later(cast)


async def _check_mac(op: Op, network_id: str, mac: str) -> None:
    used = await op.session.scalar(
        select(Port.id).where(Port.network_id == network_id, Port.mac_address == mac)
    )
    if used is not None:
        raise faults.conflict(
            f"Unable to complete operation for network {network_id}. The mac address {mac} is in use.",
            "MacAddressInUse",
        )


def _check_pairs(row: Port) -> None:
    if row.allowed_address_pairs and not row.port_security_enabled:
        raise faults.conflict(
            "Port Security must be enabled in order to have allowed address pairs on a port.",
            "AddressPairAndPortSecurityRequired",
        )


async def _set_groups(op: Op, row: Port, wanted: list[str] | None, *, created: bool) -> list[str]:
    """Bind the port to `wanted` (None: as it is on update, its project's default group on
    create). Returns the groups set, which on create are all the port has."""
    checked = False
    if wanted is None:
        if not created:
            if not row.port_security_enabled:
                has = await op.session.scalar(
                    select(PortSecurityGroup.port_id)
                    .where(PortSecurityGroup.port_id == row.id)
                    .limit(1)
                )
                if has is not None:
                    raise faults.conflict(
                        "Port has security group associated. Cannot disable port security or ip address until security group is removed.",
                        "PortSecurityPortHasSecurityGroup",
                    )
            return []
        if not row.port_security_enabled or row.device_owner.startswith("network:"):
            return []
        wanted = [await security_groups.default_for_port(op, row.project_id)]
        checked = True  # the project's own default group exists: no look-up
    if wanted and not row.port_security_enabled:
        raise faults.bad(
            "Port security must be enabled and port must have an IP address in order to use security groups.",
            "PortSecurityAndIPRequiredForSecurityGroups",
        )
    for group_id in [] if checked else wanted:
        stmt = select(SecurityGroup.id).where(SecurityGroup.id == group_id)
        if not op.admin:
            stmt = stmt.where(SecurityGroup.project_id == row.project_id)
        if await op.session.scalar(stmt) is None:
            raise faults.not_found("security_group", group_id)
    if not created:
        await op.session.execute(
            delete(PortSecurityGroup).where(PortSecurityGroup.port_id == row.id)
        )
    if wanted:
        await op.session.execute(
            _JOIN, [{"port_id": row.id, "security_group_id": g} for g in wanted]
        )
    return wanted


_JOIN = insert(PortSecurityGroup.__table__)  # plain: the unit of work costs more than it does


def view(
    row: Port, tags: list[str] | None, ips: list[dict[str, str]], groups: list[str]
) -> dict[str, Any]:
    body = standard.fields(row, tags)
    hostname = row.dns_name or None
    body.update(
        {
            "name": row.name,
            "network_id": row.network_id,
            "admin_state_up": row.admin_state_up,
            "mac_address": row.mac_address,
            "fixed_ips": ips,
            "device_id": row.device_id,
            "device_owner": row.device_owner,
            "status": row.status,
            "security_groups": sorted(groups),
            "allowed_address_pairs": [
                {
                    "mac_address": p.get("mac_address", row.mac_address),
                    "ip_address": p["ip_address"],
                }
                for p in row.allowed_address_pairs or []
            ],
            "port_security_enabled": row.port_security_enabled,
            "extra_dhcp_opts": [{"ip_version": 4, **o} for o in row.extra_dhcp_opts or []],
            "dns_name": row.dns_name,
            "dns_domain": row.dns_domain,
            "dns_assignment": [
                {
                    "hostname": hostname
                    or "host-" + ip["ip_address"].replace(".", "-").replace(":", "-"),
                    "ip_address": ip["ip_address"],
                    "fqdn": (
                        hostname or "host-" + ip["ip_address"].replace(".", "-").replace(":", "-")
                    )
                    + ".openstacklocal.",
                }
                for ip in ips
            ],
            "propagate_uplink_status": row.propagate_uplink_status,
            "ip_allocation": "immediate",
            "binding:host_id": row.host,
            "binding:vnic_type": row.vnic_type,
            "binding:profile": row.profile or {},
            "binding:vif_type": row.vif_type,
            "binding:vif_details": row.vif_details or {},
        }
    )
    return body


async def service_port(
    op: Op,
    network: Network,
    project_id: str,
    device_owner: str,
    device_id: str,
    requested: list[dict[str, Any]] | None = None,
) -> Port:
    """A port the network service makes for itself (router gateway or interface, floating
    IP): no quota, no security groups, its addresses from IPAM like any other."""
    row = await inserts.insert_row(
        op.session,
        Port,
        project_id=project_id,
        network_id=network.id,
        mac_address=new_mac(op.st.settings.network.base_mac),
        device_id=device_id,
        device_owner=device_owner,
        port_security_enabled=False,
        status="ACTIVE" if device_owner != "network:floatingip" else "N/A",
    )
    await fixed_ips.assign(op, row, network, requested)
    await op.session.flush()
    return row
