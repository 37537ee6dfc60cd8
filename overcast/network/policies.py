"""The network service's default policy, as data: Neutron's secure-RBAC defaults, with its
attribute rules (`create_network:shared`, `get_port:binding:vif_type`, ...) that decide who
may set and who may see an attribute. Which resources a project sees is also decided in the
query (`Kind.visible`), as Neutron's model query does."""

from __future__ import annotations

from overcast.common.http.policy import RuleDefault

ADMIN = "role:admin"
MEMBER = "role:admin or (role:member and project_id:%(project_id)s)"
READER = "role:admin or (role:reader and project_id:%(project_id)s)"
NET_OWNER = "role:admin or (role:member and project_id:%(network_project_id)s)"
ANY_READER = "role:admin or role:reader"


def _crud(
    name: str, create: str = MEMBER, get: str = READER, update: str = MEMBER, delete: str = MEMBER
) -> list[RuleDefault]:
    return [
        RuleDefault(f"create_{name}", create),
        RuleDefault(f"get_{name}", get),
        RuleDefault(f"update_{name}", update),
        RuleDefault(f"delete_{name}", delete),
    ]


def _attrs(action: str, name: str, attrs: tuple[str, ...], rule: str = ADMIN) -> list[RuleDefault]:
    return [RuleDefault(f"{action}_{name}:{attr}", rule) for attr in attrs]


_PROVIDER = (
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "segments",
)
_BINDING = ("binding:host_id", "binding:profile")

DEFAULTS = [
    *_crud(
        "network",
        get=f"{READER} or 'True':%(shared)s or 'True':%(router:external)s or role:reader",
    ),
    *_attrs("create", "network", ("shared", "router:external", "is_default", *_PROVIDER)),
    *_attrs("update", "network", ("shared", "router:external", "is_default", *_PROVIDER)),
    *_attrs("get", "network", _PROVIDER),
    *_crud(
        "subnet",
        create=NET_OWNER,
        get=f"{READER} or role:reader",
        update=NET_OWNER,
        delete=NET_OWNER,
    ),
    *_attrs("create", "subnet", ("segment_id", "service_types")),
    *_attrs("update", "subnet", ("segment_id", "service_types")),
    *_crud(
        "port",
        get=f"{READER} or {NET_OWNER}",
        update=f"{MEMBER} or {NET_OWNER}",
        delete=f"{MEMBER} or {NET_OWNER}",
    ),
    *_attrs("create", "port", _BINDING),
    *_attrs("update", "port", _BINDING),
    *_attrs(
        "get",
        "port",
        ("binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details"),
    ),
    *_attrs(
        "create",
        "port",
        ("mac_address", "port_security_enabled", "allowed_address_pairs"),
        NET_OWNER,
    ),
    *_attrs("update", "port", ("mac_address",), ADMIN),
    *_attrs("update", "port", ("port_security_enabled", "allowed_address_pairs"), NET_OWNER),
    *_crud("security_group"),
    *_crud("security_group_rule"),
    *_crud("subnetpool", get=f"{READER} or role:reader"),
    *_attrs("create", "subnetpool", ("shared", "is_default")),
    *_attrs("update", "subnetpool", ("is_default",)),
    *_crud("address_scope", get=f"{READER} or role:reader"),
    *_attrs("create", "address_scope", ("shared",)),
    *_attrs("update", "address_scope", ("shared",)),
    *_crud("router"),
    *_attrs(
        "create",
        "router",
        (
            "ha",
            "distributed",
            "external_gateway_info:external_fixed_ips",
            "external_gateway_info:enable_snat",
        ),
    ),
    *_attrs(
        "update",
        "router",
        (
            "ha",
            "distributed",
            "external_gateway_info:external_fixed_ips",
            "external_gateway_info:enable_snat",
        ),
    ),
    *_attrs("get", "router", ("ha", "distributed")),
    RuleDefault("add_router_interface", MEMBER),
    RuleDefault("remove_router_interface", MEMBER),
    *_crud("floatingip"),
    *_attrs("create", "floatingip", ("floating_ip_address",)),
    *_crud("port_forwarding"),
    *_crud(
        "rbac_policy",
        create=f"{ADMIN} or (role:member and project_id:%(project_id)s"
        " and 'access_as_shared':%(action)s)",
    ),
    RuleDefault("get_quota", READER),
    RuleDefault("update_quota", ADMIN),
    RuleDefault("delete_quota", ADMIN),
    RuleDefault("get_agent", ADMIN),
    RuleDefault("update_agent", ADMIN),
    RuleDefault("delete_agent", ADMIN),
    RuleDefault("get_availability_zone", ANY_READER),
    RuleDefault("get_network_ip_availability", ADMIN),
    RuleDefault("get_auto_allocated_topology", READER),
    RuleDefault("delete_auto_allocated_topology", MEMBER),
]
