"""The project's resources that are lists, forms and actions (see `kinds.py`): server groups,
volumes, snapshots and backups, networks, subnets, ports, routers, floating IPs, security
groups and their rules. Network lists ask for the project's own items (an admin's token would
otherwise list every project's); shared and external networks show too."""

from __future__ import annotations

from typing import Any

from overcast.dashboard import paging, web
from overcast.dashboard.kinds import Action, Field, Kind, Values, routes_for


def _own(p: web.Page) -> Values:
    return {"project_id": p.session.project_id}


def _visible_network(p: web.Page, n: Values) -> bool:
    return bool(
        n.get("project_id") == p.session.project_id or n.get("shared") or n.get("router:external")
    )


def _mine(p: web.Page, item: Values) -> bool:
    return item.get("project_id", p.session.project_id) == p.session.project_id


async def _volume_action(p: web.Page, volume_id: str, body: Values) -> Any:
    return await p.cloud.post("block-storage", f"/volumes/{volume_id}/action", body)


async def _attach(p: web.Page, volume_id: str, v: Values) -> Any:
    body = {"volumeAttachment": {"volumeId": volume_id}}
    return await p.cloud.post(
        "compute", f"/servers/{v.get('server_id', '')}/os-volume_attachments", body
    )


async def _detach(p: web.Page, volume_id: str, v: Values) -> Any:
    await p.cloud.delete(
        "compute", f"/servers/{v.get('server_id', '')}/os-volume_attachments/{volume_id}"
    )


async def _router_put(p: web.Page, router_id: str, verb: str, v: Values) -> Any:
    return await p.cloud.put("network", f"/v2.0/routers/{router_id}/{verb}", v)


async def _gateway(p: web.Page, router_id: str, v: Values) -> Any:
    info = {"network_id": v["network_id"]} if v.get("network_id") else {}
    body = {"router": {"external_gateway_info": info}}
    return await p.cloud.put("network", f"/v2.0/routers/{router_id}", body)


async def _associate(p: web.Page, fip_id: str, v: Values) -> Any:
    body = {"floatingip": {"port_id": v.get("port_id")}}
    return await p.cloud.put("network", f"/v2.0/floatingips/{fip_id}", body)


async def _add_rule(p: web.Page, group_id: str, v: Values) -> Any:
    rule = {"security_group_id": group_id, **v}
    return await p.cloud.post(
        "network", "/v2.0/security-group-rules", {"security_group_rule": rule}
    )


def _router_body(_p: web.Page, v: Values) -> Values:
    router: Values = {"name": v.get("name", "")}
    if v.get("external_network_id"):
        router["external_gateway_info"] = {"network_id": v["external_network_id"]}
    return {"router": router}


SERVERS = Kind(
    "servers",
    "Instances",
    "compute",
    "/servers",
    "servers",
    "server",
    (("Name", "name"), ("Status", "status")),
    deletable=False,
)
SERVER_GROUPS = Kind(
    "server-groups",
    "Server groups",
    "compute",
    "/os-server-groups",
    "server_groups",
    "server_group",
    (("Name", "name"), ("Policy", "policy"), ("Members", "members")),
    fields=(
        Field("name", "Name", required=True),
        Field(
            "policy",
            "Policy",
            "select",
            options=("anti-affinity", "affinity", "soft-anti-affinity", "soft-affinity"),
            required=True,
        ),
    ),
)
VOLUMES = Kind(
    "volumes",
    "Volumes",
    "block-storage",
    "/volumes",
    "volumes",
    "volume",
    (
        ("Name", "name"),
        ("Size (GiB)", "size"),
        ("Status", "status"),
        ("Type", "volume_type"),
        ("Attached to", "attachments.server_id"),
        ("Bootable", "bootable"),
    ),
    list_path="/volumes/detail",
    fields=(
        Field("name", "Name"),
        Field("size", "Size (GiB)", "number", required=True),
        Field("imageRef", "From image (id)"),
        Field("description", "Description"),
    ),
    actions=(
        Action(
            "extend",
            "Extend",
            (Field("new_size", "New size (GiB)", "number", required=True),),
            lambda p, i, v: _volume_action(p, i, {"os-extend": v}),
        ),
        Action(
            "attach",
            "Attach to an instance",
            (Field("server_id", "Instance", "select", choices="servers", required=True),),
            _attach,
        ),
        Action(
            "detach",
            "Detach from an instance",
            (Field("server_id", "Instance", "select", choices="servers", required=True),),
            _detach,
        ),
        Action(
            "snapshot",
            "Create a snapshot",
            (Field("name", "Snapshot name"), Field("force", "Even if attached", "checkbox")),
            lambda p, i, v: p.cloud.post(
                "block-storage", "/snapshots", {"snapshot": {"volume_id": i, **v}}
            ),
        ),
        Action(
            "backup",
            "Create a backup",
            (Field("name", "Backup name"), Field("force", "Even if attached", "checkbox")),
            lambda p, i, v: p.cloud.post(
                "block-storage", "/backups", {"backup": {"volume_id": i, **v}}
            ),
        ),
    ),
    paging=paging.sorted_by("created_at", "cinder"),
    traced=True,
)
SNAPSHOTS = Kind(
    "volume-snapshots",
    "Volume snapshots",
    "block-storage",
    "/snapshots",
    "snapshots",
    "snapshot",
    (("Name", "name"), ("Size (GiB)", "size"), ("Status", "status"), ("Volume", "volume_id")),
    list_path="/snapshots/detail",
    paging=paging.sorted_by("created_at", "cinder"),
)
BACKUPS = Kind(
    "volume-backups",
    "Volume backups",
    "block-storage",
    "/backups",
    "backups",
    "backup",
    (("Name", "name"), ("Size (GiB)", "size"), ("Status", "status"), ("Volume", "volume_id")),
    list_path="/backups/detail",
    actions=(
        Action(
            "restore",
            "Restore to a new volume",
            (Field("name", "New volume name"),),
            lambda p, i, v: p.cloud.post("block-storage", f"/backups/{i}/restore", {"restore": v}),
        ),
    ),
    paging=paging.sorted_by("created_at", "cinder"),
)
NETWORKS = Kind(
    "networks",
    "Networks",
    "network",
    "/v2.0/networks",
    "networks",
    "network",
    (
        ("Name", "name"),
        ("Status", "status"),
        ("Subnets", "subnets"),
        ("Shared", "shared"),
        ("External", "router:external"),
    ),
    keep=_visible_network,
    fields=(Field("name", "Name", required=True), Field("description", "Description")),
    children=(("subnets", "network_id"), ("ports", "network_id")),
    paging=paging.NEUTRON,
)
EXTERNAL_NETWORKS = Kind(
    "external-networks",
    "External networks",
    "network",
    "/v2.0/networks",
    "networks",
    "network",
    (("Name", "name"),),
    params=lambda _p: {"router:external": "true"},
    deletable=False,
)
SUBNETS = Kind(
    "subnets",
    "Subnets",
    "network",
    "/v2.0/subnets",
    "subnets",
    "subnet",
    (("Name", "name"), ("CIDR", "cidr"), ("Network", "network_id"), ("Gateway", "gateway_ip")),
    params=_own,
    keep=_mine,
    fields=(
        Field("name", "Name"),
        Field("network_id", "Network", "select", choices="networks", required=True),
        Field("cidr", "CIDR", required=True),
        Field("ip_version", "IP version", "select", options=("4", "6"), required=True),
        Field("gateway_ip", "Gateway IP"),
    ),
    paging=paging.NEUTRON,
)
PORTS = Kind(
    "ports",
    "Ports",
    "network",
    "/v2.0/ports",
    "ports",
    "port",
    (
        ("Name", "name"),
        ("Fixed IPs", "fixed_ips"),
        ("MAC", "mac_address"),
        ("Status", "status"),
        ("Device", "device_owner"),
        ("Attached to", "device_id"),
    ),
    params=_own,
    keep=_mine,
    fields=(
        Field("name", "Name"),
        Field("network_id", "Network", "select", choices="networks", required=True),
    ),
    paging=paging.NEUTRON,
)
ROUTERS = Kind(
    "routers",
    "Routers",
    "network",
    "/v2.0/routers",
    "routers",
    "router",
    (
        ("Name", "name"),
        ("Status", "status"),
        ("External gateway", "external_gateway_info.network_id"),
    ),
    params=_own,
    keep=_mine,
    body=_router_body,
    fields=(
        Field("name", "Name", required=True),
        Field("external_network_id", "External network", "select", choices="external-networks"),
    ),
    actions=(
        Action(
            "add-interface",
            "Add an interface",
            (Field("subnet_id", "Subnet", "select", choices="subnets", required=True),),
            lambda p, i, v: _router_put(p, i, "add_router_interface", v),
        ),
        Action(
            "remove-interface",
            "Remove an interface",
            (Field("subnet_id", "Subnet", "select", choices="subnets", required=True),),
            lambda p, i, v: _router_put(p, i, "remove_router_interface", v),
        ),
        Action(
            "gateway",
            "Set or clear the external gateway",
            (Field("network_id", "External network", "select", choices="external-networks"),),
            _gateway,
        ),
    ),
    children=(("ports", "device_id"),),
    paging=paging.NEUTRON,
)
FLOATING_IPS = Kind(
    "floating-ips",
    "Floating IPs",
    "network",
    "/v2.0/floatingips",
    "floatingips",
    "floatingip",
    (
        ("Address", "floating_ip_address"),
        ("Fixed address", "fixed_ip_address"),
        ("Status", "status"),
        ("Port", "port_id"),
    ),
    label="floating_ip_address",
    params=_own,
    keep=_mine,
    fields=(
        Field(
            "floating_network_id",
            "External network",
            "select",
            choices="external-networks",
            required=True,
        ),
    ),
    actions=(
        Action(
            "associate",
            "Associate with a port",
            (Field("port_id", "Port", "select", choices="ports", required=True),),
            _associate,
        ),
        Action("disassociate", "Disassociate", (), lambda p, i, v: _associate(p, i, {})),
    ),
    paging=paging.NEUTRON,
)
SECURITY_GROUPS = Kind(
    "security-groups",
    "Security groups",
    "network",
    "/v2.0/security-groups",
    "security_groups",
    "security_group",
    (("Name", "name"), ("Description", "description")),
    params=_own,
    keep=_mine,
    fields=(Field("name", "Name", required=True), Field("description", "Description")),
    actions=(
        Action(
            "add-rule",
            "Add a rule",
            (
                Field(
                    "direction", "Direction", "select", options=("ingress", "egress"), required=True
                ),
                Field("ethertype", "Ether type", "select", options=("IPv4", "IPv6"), required=True),
                Field("protocol", "Protocol (tcp, udp, icmp, a number)"),
                Field("port_range_min", "Port from", "number"),
                Field("port_range_max", "Port to", "number"),
                Field("remote_ip_prefix", "Remote CIDR"),
            ),
            _add_rule,
        ),
    ),
    children=(("security-group-rules", "security_group_id"),),
    paging=paging.NEUTRON,
)
RULES = Kind(
    "security-group-rules",
    "Rules",
    "network",
    "/v2.0/security-group-rules",
    "security_group_rules",
    "security_group_rule",
    (
        ("Id", "id"),
        ("Direction", "direction"),
        ("Ether type", "ethertype"),
        ("Protocol", "protocol"),
        ("Ports", "port_range_min"),
        ("to", "port_range_max"),
        ("Remote", "remote_ip_prefix"),
    ),
    label="id",
    params=_own,
    keep=_mine,
    paging=paging.NEUTRON,
)

routes = routes_for(
    SERVERS,
    SERVER_GROUPS,
    VOLUMES,
    SNAPSHOTS,
    BACKUPS,
    NETWORKS,
    EXTERNAL_NETWORKS,
    SUBNETS,
    PORTS,
    ROUTERS,
    FLOATING_IPS,
    SECURITY_GROUPS,
    RULES,
)
