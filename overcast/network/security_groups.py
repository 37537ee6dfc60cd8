"""Security groups and their rules; each project's `default` group is made on first use with
Neutron's default rules (ingress from the same group and all egress, for IPv4 and IPv6)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors, log
from overcast.common.context import RequestContext
from overcast.network import attributes as a
from overcast.network import faults, protocols, quotas, standard
from overcast.network.kinds import Kind, Op
from overcast.network.models import (
    DefaultSecurityGroup,
    PortSecurityGroup,
    SecurityGroup,
    SecurityGroupRule,
)

LOG = log.get(__name__)
PROTOCOLS = protocols.NUMBERS
_PORTED = protocols.PORTED
_ICMP = {protocols.ICMP4, protocols.ICMP6}


def protocol(value: Any) -> str | None:
    if value is None or value == "" or (isinstance(value, str) and value.lower() == "any"):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise faults.bad(
            f"Security group rule protocol {value} not supported. Only protocol values {sorted(PROTOCOLS)} and integer representations [0 to 255] are supported.",
            "SecurityGroupRuleInvalidProtocol",
        )
    if value.lower() in PROTOCOLS:
        return value.lower()
    if value.isdigit() and 0 <= int(value) <= 255:
        return value
    raise faults.bad(
        f"Security group rule protocol {value} not supported. Only protocol values {sorted(PROTOCOLS)} and integer representations [0 to 255] are supported.",
        "SecurityGroupRuleInvalidProtocol",
    )


def number(proto: str | None) -> int | None:
    if proto is None:
        return None
    return PROTOCOLS[proto] if proto in PROTOCOLS else int(proto)


class SecurityGroups(Kind):
    name = "security_group"
    collection = "security_groups"
    path = "security-groups"
    model = SecurityGroup
    attrs = a.standard(
        name=a.name_attr(),
        stateful=a.Attr(convert=a.boolean, put=True, default=True),
        security_group_rules=a.Attr(post=False, filter=False, sort=False),
        shared=a.Attr(post=False, filter=False, sort=False),
    )

    async def prepare(self, op: Op) -> None:
        if op.ctx.project_id:
            await ensure_default(
                op.session, op.st.settings.network.default_quotas, op.ctx.project_id
            )

    async def views(self, op: Op, rows: Sequence[SecurityGroup]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        tags = await standard.tags_of(op.session, ids)
        rules: dict[str, list[SecurityGroupRule]] = {}
        defaults = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for rule in (
                await op.session.execute(
                    select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(chunk))
                )
            ).scalars():
                rules.setdefault(rule.security_group_id, []).append(rule)
            defaults.update(
                await op.session.scalars(
                    select(DefaultSecurityGroup.security_group_id).where(
                        DefaultSecurityGroup.security_group_id.in_(chunk)
                    )
                )
            )
        out = []
        for row in rows:
            body = standard.fields(row, tags.get(row.id))
            body.update(
                name=row.name,
                stateful=row.stateful,
                shared=False,
                security_group_rules=[
                    rule_view(r, None, row.id in defaults) for r in rules.get(row.id, [])
                ],
            )
            out.append(body)
        return out

    async def create(self, op: Op, values: dict[str, Any]) -> SecurityGroup:
        project = values.get("project_id") or op.ctx.project_id or ""
        await ensure_default(op.session, op.st.settings.network.default_quotas, project)
        if values["name"] == "default":
            raise faults.conflict(
                "Default security group already exists.", "SecurityGroupDefaultAlreadyExists"
            )
        await quotas.check(
            op.session, op.st.settings.network.default_quotas, "security_group", project
        )
        row = SecurityGroup(
            project_id=project,
            name=values["name"],
            description=values["description"],
            stateful=values["stateful"],
        )
        op.session.add(row)
        await op.session.flush()
        for rule in egress_rules(row):
            op.session.add(rule)
        return row

    async def update(self, op: Op, row: SecurityGroup, values: dict[str, Any]) -> SecurityGroup:
        is_default = await op.session.get(DefaultSecurityGroup, row.project_id)
        default = is_default is not None and is_default.security_group_id == row.id
        if default and values.get("name", "default") != "default":
            raise faults.conflict(
                "Updating default security group not allowed.", "SecurityGroupCannotUpdateDefault"
            )
        if not default and values.get("name") == "default":
            raise faults.conflict(
                "Default security group already exists.", "SecurityGroupDefaultAlreadyExists"
            )
        return await super().update(op, row, values)

    async def delete(self, op: Op, row: SecurityGroup) -> None:
        is_default = await op.session.get(DefaultSecurityGroup, row.project_id)
        if is_default is not None and is_default.security_group_id == row.id and not op.admin:
            raise faults.conflict(
                "Insufficient rights for removing default security group.",
                "SecurityGroupCannotRemoveDefault",
            )
        used = await op.session.scalar(
            select(func.count())
            .select_from(PortSecurityGroup)
            .where(PortSecurityGroup.security_group_id == row.id)
        )
        if used:
            raise faults.conflict(f"Security Group {row.id} in use.", "SecurityGroupInUse")
        if is_default is not None and is_default.security_group_id == row.id:
            await op.session.delete(is_default)
            await op.session.flush()
        await op.session.delete(row)


def egress_rules(group: SecurityGroup) -> list[SecurityGroupRule]:
    return [
        SecurityGroupRule(
            project_id=group.project_id,
            security_group_id=group.id,
            direction="egress",
            ethertype=eth,
        )
        for eth in ("IPv4", "IPv6")
    ]


async def ensure_default(session: AsyncSession, defaults: dict[str, int], project_id: str) -> str:
    """The id of `project_id`'s default group, made now (with its rules) if it has none.

    Made in a savepoint-free way: a concurrent maker loses at the DefaultSecurityGroup key and
    the caller's transaction retry then finds the winner's group."""
    found = await session.get(DefaultSecurityGroup, project_id)
    if found is not None:
        return found.security_group_id
    group = SecurityGroup(
        project_id=project_id, name="default", description="Default security group"
    )
    session.add(group)
    await session.flush()
    session.add(DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
    for rule in egress_rules(group):
        session.add(rule)
    for eth in ("IPv4", "IPv6"):
        session.add(
            SecurityGroupRule(
                project_id=project_id,
                security_group_id=group.id,
                direction="ingress",
                ethertype=eth,
                remote_group_id=group.id,
            )
        )
    await session.flush()
    return group.id


_DEFAULT_ID = (
    select(DefaultSecurityGroup.security_group_id)
    .where(DefaultSecurityGroup.project_id == bindparam("project_id"))
    .scalar_subquery()
)
# The project's default group (NULL: none yet) and whether a rule names it as its remote
# group, as columns of another statement with `project_id` bound (a port create's reads).
DEFAULT_FOR_PORT = (_DEFAULT_ID, exists().where(SecurityGroupRule.remote_group_id == _DEFAULT_ID))
_DEFAULT = select(*DEFAULT_FOR_PORT)  # built once: ports ask


async def default_for_port(op: Op, project_id: str) -> str:
    """`ensure_default` for a new port, in one statement: the group, and whether a rule names
    it as its remote group (remembered for the port's `members_changed`). The request may
    have read both already (`DEFAULT_FOR_PORT`, kept in `op.memo` as "default_group")."""
    known = op.memo.pop(("default_group", project_id), None)
    if known is None:
        known = (await op.session.execute(_DEFAULT, {"project_id": project_id})).first()
    if known is None or known[0] is None:
        return await ensure_default(op.session, op.st.settings.network.default_quotas, project_id)
    group_id, named = known
    op.memo[("remote_named", group_id)] = bool(named)
    return str(group_id)


def rule_view(
    rule: SecurityGroupRule, tags: list[str] | None, in_default: bool = False
) -> dict[str, Any]:
    body = standard.fields(rule, tags)
    body.update(
        security_group_id=rule.security_group_id,
        direction=rule.direction,
        ethertype=rule.ethertype,
        protocol=rule.protocol,
        port_range_min=rule.port_range_min,
        port_range_max=rule.port_range_max,
        remote_ip_prefix=rule.remote_ip_prefix,
        remote_group_id=rule.remote_group_id,
        remote_address_group_id=rule.remote_address_group_id,
        normalized_cidr=rule.remote_ip_prefix,
        belongs_to_default_sg=in_default,
    )
    return body


_PORT = a.integer(0, 65535, nullable=True)


def _port(value: Any) -> int | None:
    """A port number of a rule, 0 to 65535, in Neutron's words when it is not one."""
    try:
        port: int | None = _PORT(value)
    except errors.BadRequest as exc:
        raise faults.bad(
            f"Invalid value for port {value}.", "SecurityGroupInvalidPortValue"
        ) from exc
    return port


class SecurityGroupRules(Kind):
    name = "security_group_rule"
    collection = "security_group_rules"
    path = "security-group-rules"
    model = SecurityGroupRule
    tagged = False
    attrs = a.standard(
        security_group_id=a.Attr(convert=a.uuid_, default=a.MISSING),
        direction=a.Attr(convert=a.one_of("ingress", "egress"), default=a.MISSING),
        ethertype=a.Attr(convert=a.one_of("IPv4", "IPv6"), default="IPv4"),
        protocol=a.Attr(convert=protocol),
        port_range_min=a.Attr(convert=_port),
        port_range_max=a.Attr(convert=_port),
        remote_ip_prefix=a.Attr(convert=lambda v: None if v is None else a.prefix_or_address(v)),
        # Not checked as a UUID: a group that is not there, whatever its id, is a 404.
        remote_group_id=a.Attr(convert=a.string(255, nullable=True)),
        remote_address_group_id=a.Attr(convert=a.uuid_or_none),
        normalized_cidr=a.Attr(post=False, filter=False, sort=False),
        belongs_to_default_sg=a.Attr(post=False, filter=False, sort=False),
    )

    async def views(self, op: Op, rows: Sequence[SecurityGroupRule]) -> list[dict[str, Any]]:
        groups = {r.security_group_id for r in rows}
        defaults = (
            set(
                await op.session.scalars(
                    select(DefaultSecurityGroup.security_group_id).where(
                        DefaultSecurityGroup.security_group_id.in_(groups)
                    )
                )
            )
            if groups
            else set()
        )
        return [rule_view(r, None, r.security_group_id in defaults) for r in rows]

    def visible(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        if ctx.is_admin:
            return None
        own = select(SecurityGroup.id).where(SecurityGroup.project_id == (ctx.project_id or ""))
        return SecurityGroupRule.project_id.in_(
            [ctx.project_id or ""]
        ) | SecurityGroupRule.security_group_id.in_(own)

    async def create(self, op: Op, values: dict[str, Any]) -> SecurityGroupRule:
        group = await SecurityGroups().load(op, values["security_group_id"])
        project = values.get("project_id") or group.project_id
        _check_rule(values)
        if values.get("remote_group_id"):
            await SecurityGroups().load(op, values["remote_group_id"])
        if values.get("remote_address_group_id"):
            raise faults.not_found("address_group", values["remote_address_group_id"])
        await quotas.check(
            op.session, op.st.settings.network.default_quotas, "security_group_rule", project
        )
        key = _key(values)
        for other in (
            await op.session.execute(
                select(SecurityGroupRule).where(SecurityGroupRule.security_group_id == group.id)
            )
        ).scalars():
            if _key(_as_values(other)) == key:
                raise faults.conflict(
                    f"Security group rule already exists. Rule id is {other.id}.",
                    "SecurityGroupRuleExists",
                )
        row = SecurityGroupRule(
            project_id=project,
            security_group_id=group.id,
            description=values["description"],
            direction=values["direction"],
            ethertype=values["ethertype"],
            protocol=values.get("protocol"),
            port_range_min=values.get("port_range_min"),
            port_range_max=values.get("port_range_max"),
            remote_ip_prefix=values.get("remote_ip_prefix"),
            remote_group_id=values.get("remote_group_id"),
        )
        op.session.add(row)
        standard.bump(group)
        await op.session.flush()
        tell_agents(op, [group.id])
        return row

    async def delete(self, op: Op, row: SecurityGroupRule) -> None:
        group = await op.session.get(SecurityGroup, row.security_group_id)
        if group is not None:
            standard.bump(group)
        tell_agents(op, [row.security_group_id])
        await op.session.delete(row)


def tell_agents(op: Op, group_ids: Iterable[str]) -> None:
    """After commit, tell every network agent that these groups changed (rules or members),
    so that the hosts filtering with them apply the change now, not on their next pass."""
    ids = sorted(set(group_ids))
    if not ids:
        return
    bus = op.st.bus

    async def fanout() -> None:
        try:
            await bus.fanout("network-agent", "security_groups_changed", {}, group_ids=ids)
        except errors.ServiceUnavailable:
            LOG.info("no network agent to tell of security groups", extra={"fields": {"ids": ids}})

    op.later(fanout)


_NAMED = (
    select(SecurityGroupRule.id)
    .where(SecurityGroupRule.remote_group_id.in_(bindparam("ids", expanding=True)))
    .limit(1)
)  # built once: every port create and delete asks


async def members_changed(op: Op, group_ids: Iterable[str]) -> None:
    """A port joined or left these groups (or its addresses changed): the hosts need to know
    only if some rule names one of them as its remote group."""
    ids = sorted(set(group_ids))
    if not ids:
        return
    known = [op.memo.get(("remote_named", i)) for i in ids]
    if None in known:
        named = await op.session.scalar(_NAMED, {"ids": ids}) is not None
    else:
        named = any(known)
    if named:
        tell_agents(op, ids)


def _as_values(rule: SecurityGroupRule) -> dict[str, Any]:
    return {
        k: getattr(rule, k)
        for k in (
            "direction",
            "ethertype",
            "protocol",
            "port_range_min",
            "port_range_max",
            "remote_ip_prefix",
            "remote_group_id",
            "remote_address_group_id",
        )
    }


def _key(values: dict[str, Any]) -> tuple[Any, ...]:
    prefix = values.get("remote_ip_prefix")
    if prefix in ("0.0.0.0/0", "::/0"):
        prefix = None
    return (
        values["direction"],
        values.get("ethertype", "IPv4"),
        number(values.get("protocol")),
        values.get("port_range_min"),
        values.get("port_range_max"),
        prefix,
        values.get("remote_group_id"),
        values.get("remote_address_group_id"),
    )


def _check_rule(values: dict[str, Any]) -> None:
    proto = number(values.get("protocol"))
    low, high = values.get("port_range_min"), values.get("port_range_max")
    if proto is None and (low is not None or high is not None):
        raise faults.bad(
            "Must also specify protocol if port range is given.",
            "SecurityGroupProtocolRequiredWithPorts",
        )
    if proto in _PORTED:
        if low is not None and low < 1 or high is not None and high < 1:
            raise faults.bad(
                f"Invalid value for port {low if low is not None and low < 1 else high}.",
                "SecurityGroupInvalidPortValue",
            )
        # Both ends or neither: one alone is not a range.
        if (low is None) != (high is None) or low is not None and high is not None and low > high:
            raise faults.bad(
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                "SecurityGroupInvalidPortRange",
            )
    elif proto in _ICMP:
        for name, value in (("type", low), ("code", high)):
            if value is not None and not 0 <= value <= 255:
                raise faults.bad(
                    f"Invalid value for ICMP {name} (port_range_{'min' if name == 'type' else 'max'}) {value}. It must be 0 to 255.",
                    "SecurityGroupInvalidIcmpValue",
                )
        if high is not None and low is None:
            raise faults.bad(
                f"ICMP code (port-range-max) {high} is provided but ICMP type (port-range-min) is missing.",
                "SecurityGroupMissingIcmpType",
            )
    elif low is not None or high is not None:
        raise faults.bad(
            f"Invalid protocol {values.get('protocol')} for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP.",
            "SecurityGroupInvalidProtocolForPort",
        )
    if values.get("remote_ip_prefix") and values.get("remote_group_id"):
        raise faults.bad(
            "Only remote_ip_prefix or remote_group_id may be provided.",
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
        )
    prefix = values.get("remote_ip_prefix")
    if prefix is not None:
        version = ipaddress.ip_network(prefix).version
        if f"IPv{version}" != values.get("ethertype", "IPv4"):
            raise faults.bad(
                f"Conflicting value ethertype {values.get('ethertype', 'IPv4')} for CIDR {prefix}",
                "SecurityGroupRuleParameterConflict",
            )
