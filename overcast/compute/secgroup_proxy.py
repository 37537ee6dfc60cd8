"""Nova's security group proxy (`os-security-groups`, `os-security-group-rules`, a server's
`os-security-groups`): the network service's security groups in Nova's shape, read and written
with the caller's token, so the network service's own policies and checks apply. Only ingress
rules are shown, as Nova shows them; Nova's own checks (ids, protocols, port ranges) come
first, and what the network service refuses as a conflict (a group in use, a duplicate rule)
is a 400 as in Nova. Called by `api.proxy_network`.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from overcast.clients.network import NetworkClient
from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.compute import servers
from overcast.compute.state import ComputeState

Json = dict[str, Any]
_PORTED = ("tcp", "udp")


def network(st: ComputeState, ctx: RequestContext) -> NetworkClient:
    client = st.remote.network(ctx.to_dict())
    if client is None:
        raise errors.NotFound("There is no network service in this cloud.")
    return client


def check_id(value: Any, what: str = "Security group") -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise errors.BadRequest(f"{what} id should be uuid") from exc


def _rule_view(rule: Json, groups: dict[str, Json]) -> Json:
    protocol = rule.get("protocol")
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if protocol and low is None:
        low = 1 if protocol.lower() in _PORTED else -1
    if protocol and high is None:
        high = 65535 if protocol.lower() in _PORTED else -1
    view: Json = {
        "id": rule["id"],
        "parent_group_id": rule["security_group_id"],
        "ip_protocol": protocol,
        "from_port": low,
        "to_port": high,
        "ip_range": {},
        "group": {},
    }
    remote = rule.get("remote_group_id")
    if remote:
        peer = groups.get(remote, {})
        view["group"] = {"name": peer.get("name", ""), "tenant_id": peer.get("project_id", "")}
    else:
        default = "::/0" if rule.get("ethertype") == "IPv6" else "0.0.0.0/0"
        view["ip_range"] = {"cidr": rule.get("remote_ip_prefix") or default}
    return view


def group_view(group: Json, groups: dict[str, Json]) -> Json:
    rules = [r for r in group.get("security_group_rules", []) if r["direction"] == "ingress"]
    return {
        "id": group["id"],
        "name": group["name"],
        "description": group.get("description") or "",
        "tenant_id": group.get("project_id") or group.get("tenant_id") or "",
        "rules": [_rule_view(r, groups) for r in rules],
    }


async def _known(client: NetworkClient) -> dict[str, Json]:
    """The groups the caller sees, by id (the names of remote groups in rules)."""
    found = await client.call("GET", "/v2.0/security-groups")
    return {g["id"]: g for g in found["security_groups"]}


async def list_groups(st: ComputeState, ctx: RequestContext, all_projects: bool) -> list[Json]:
    client = network(st, ctx)
    groups = await _known(client)
    mine = [g for g in groups.values() if all_projects or g.get("project_id") == ctx.project_id]
    return [group_view(g, groups) for g in mine]


async def show(st: ComputeState, ctx: RequestContext, group_id: str) -> Json:
    client = network(st, ctx)
    found = await client.call("GET", f"/v2.0/security-groups/{check_id(group_id)}")
    return group_view(found["security_group"], await _known(client))


def _fields(body: Json) -> Json:
    group = body.get("security_group")
    if not isinstance(group, dict):
        raise errors.BadRequest("Security group not specified")
    fields: Json = {}
    for key in ("name", "description"):
        value = group.get(key)
        if not isinstance(value, str):
            raise errors.BadRequest(f"Security group {key} is not a string or unicode")
        fields[key] = value
    return fields


async def create(st: ComputeState, ctx: RequestContext, body: Json) -> Json:
    client = network(st, ctx)
    made = await client.call("POST", "/v2.0/security-groups", {"security_group": _fields(body)})
    return group_view(made["security_group"], {})


async def update(st: ComputeState, ctx: RequestContext, group_id: str, body: Json) -> Json:
    client = network(st, ctx)
    path = f"/v2.0/security-groups/{check_id(group_id)}"
    changed = await client.call("PUT", path, {"security_group": _fields(body)})
    return group_view(changed["security_group"], await _known(client))


async def delete(st: ComputeState, ctx: RequestContext, group_id: str) -> None:
    client = network(st, ctx)
    try:
        await client.call("DELETE", f"/v2.0/security-groups/{check_id(group_id)}")
    except errors.Conflict as exc:  # in use, or the default group
        raise errors.BadRequest(exc.message) from exc


def _port(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise errors.BadRequest(f"Invalid port range: {name} must be an integer.") from exc


def _ports(protocol: str, low: Any, high: Any) -> tuple[int | None, int | None]:
    """Nova's checks of a rule's protocol and ports; the network service's port range."""
    first, last = _port(low, "from_port"), _port(high, "to_port")
    if protocol in _PORTED:
        if not 1 <= first <= last <= 65535:
            raise errors.BadRequest(
                f"Invalid port range {first}:{last}. Valid TCP/UDP ports are 1 to 65535."
            )
        return first, last
    if protocol == "icmp":
        if not (-1 <= first <= 255 and -1 <= last <= 255):
            raise errors.BadRequest(f"Invalid ICMP type or code {first}:{last}.")
        return (None if first == -1 else first), (None if last == -1 else last)
    return None, None


def _protocol(value: Any) -> str:
    text = str(value).lower()
    if text in (*_PORTED, "icmp") or (text.isdigit() and 0 <= int(text) <= 255):
        return text
    raise errors.BadRequest(f"Invalid IP protocol {value}.")


async def create_rule(st: ComputeState, ctx: RequestContext, body: Json) -> Json:
    rule = body.get("security_group_rule")
    if not isinstance(rule, dict):
        raise errors.BadRequest("Missing parameter dict")
    parent = check_id(rule.get("parent_group_id"))
    remote = rule.get("group_id")
    wanted: Json = {"security_group_id": parent, "direction": "ingress", "ethertype": "IPv4"}
    if remote is not None:
        wanted["remote_group_id"] = check_id(remote)
    else:
        try:
            cidr = ipaddress.ip_network(str(rule.get("cidr") or "0.0.0.0/0"), strict=False)
        except ValueError as exc:
            raise errors.BadRequest(f"Invalid cidr {rule.get('cidr')}.") from exc
        wanted["remote_ip_prefix"] = str(cidr)
        wanted["ethertype"] = f"IPv{cidr.version}"
    if rule.get("ip_protocol") is not None:
        protocol = _protocol(rule["ip_protocol"])
        low, high = _ports(protocol, rule.get("from_port"), rule.get("to_port"))
        wanted.update(protocol=protocol, port_range_min=low, port_range_max=high)
    elif remote is None or rule.get("from_port") is not None or rule.get("to_port") is not None:
        raise errors.BadRequest("Invalid IP protocol None.")
    client = network(st, ctx)
    await client.call("GET", f"/v2.0/security-groups/{parent}")  # 404 when it is not there
    try:
        made = await client.call(
            "POST", "/v2.0/security-group-rules", {"security_group_rule": wanted}
        )
    except errors.Conflict as exc:  # the same rule exists
        raise errors.BadRequest(exc.message) from exc
    view = _rule_view(made["security_group_rule"], await _known(client))
    if view["ip_range"] and rule.get("cidr"):  # Nova answers with the CIDR it was given
        view["ip_range"] = {"cidr": str(rule["cidr"])}
    return view


async def delete_rule(st: ComputeState, ctx: RequestContext, rule_id: str) -> None:
    client = network(st, ctx)
    path = f"/v2.0/security-group-rules/{check_id(rule_id, 'Security group rule')}"
    await client.call("DELETE", path)


async def of_server(st: ComputeState, ctx: RequestContext, uuid_: str) -> list[Json]:
    """The groups on the server's ports (none without a network service)."""
    async with st.db.reader() as session:
        await servers.get(session, ctx, uuid_)
    client = st.remote.network(ctx.to_dict())
    if client is None:
        return []
    ports = await client.list_ports(device_id=uuid_)
    wanted = {g for p in ports for g in p.get("security_groups", [])}
    groups = await _known(client)
    return [group_view(groups[g], groups) for g in sorted(wanted) if g in groups]
