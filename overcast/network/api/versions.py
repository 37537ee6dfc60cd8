"""Version discovery (`GET /`), the v2.0 resource index and `/v2.0/extensions`: exactly the
extensions this service implements, which clients consult before they try a feature."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from overcast.network import faults
from overcast.network.api import base_url
from overcast.network.registry import KINDS

router = APIRouter()

UPDATED = "2025-01-01T00:00:00-00:00"

# alias: (name, description)
EXTENSIONS: dict[str, tuple[str, str]] = {
    "address-scope": ("Address scope", "Address scopes of subnet pools."),
    "agent": ("agent", "The agents of the dataplane."),
    "allowed-address-pairs": ("Allowed Address Pairs", "Addresses a port may also send from."),
    "auto-allocated-topology": ("Auto Allocated Topology Services", "Get-me-a-network."),
    "availability_zone": ("Availability Zone", "The availability zone resource."),
    "binding": ("Port Binding", "Binding attributes of ports."),
    "default-subnetpools": ("Default Subnetpools", "Default subnet pools per IP version."),
    "dns-domain-ports": ("dns_domain for ports", "A dns_domain attribute on ports."),
    "dns-integration": ("DNS Integration", "dns_name on ports."),
    "external-net": ("Neutron external network", "router:external on networks."),
    "ext-gw-mode": ("Neutron L3 Configurable external gateway mode", "SNAT on or off."),
    "extra_dhcp_opt": ("Neutron Extra DHCP options", "Extra DHCP options of ports."),
    "extraroute": ("Neutron Extra Route", "Extra routes on routers."),
    "fields": ("Fields", "The fields parameter of GET requests."),
    "filter-validation": ("Filter parameters validation", "Unknown filters answer 400."),
    "floating-ip-port-forwarding": ("Floating IP Port Forwarding", "Port forwardings."),
    "ip-substring-filtering": ("IP address substring filtering", "ip_address_substr."),
    "ip_allocation": ("IP Allocation", "The ip_allocation attribute of ports."),
    "l3-ha": ("HA Router extension", "The ha attribute of routers."),
    "dvr": ("Distributed Virtual Router", "The distributed attribute of routers."),
    "multi-provider": ("Multi Provider Network", "Networks of several segments."),
    "net-mtu": ("Network MTU", "The MTU of networks."),
    "net-mtu-writable": ("Network MTU (writable)", "The MTU may be set."),
    "network-ip-availability": ("Network IP Availability", "Used and total addresses."),
    "network_availability_zone": ("Network Availability Zone", "AZ hints of networks."),
    "pagination": ("Pagination support", "limit, marker and page_reverse."),
    "port-security": ("Port Security", "port_security_enabled."),
    "port-security-groups-filtering": ("Port filtering on security groups", "The filter."),
    "project-id": ("project_id field enabled", "project_id beside tenant_id."),
    "provider": ("Provider Network", "Provider attributes of networks."),
    "quotas": ("Quota management support", "Per-project quotas."),
    "quota_details": ("Quota details extension", "Used, reserved and limit per resource."),
    "rbac-policies": ("RBAC Policies", "Sharing networks with projects."),
    "revision-if-match": ("If-Match constraints based on revision_number", "If-Match."),
    "router": ("Neutron L3 Router", "Routers and floating IPs."),
    "router_availability_zone": ("Router Availability Zone", "AZ hints of routers."),
    "security-group": ("security-group", "Security groups and rules."),
    "security-groups-rules-belongs-to-default-sg": ("Default SG rules flag", "The flag."),
    "sorting": ("Sorting support", "sort_key and sort_dir."),
    "standard-attr-description": ("standard-attr-description", "Descriptions."),
    "standard-attr-revisions": ("Resource revision numbers", "revision_number."),
    "standard-attr-tag": ("Tag support for resources", "Tags on every resource."),
    "standard-attr-timestamp": ("Resource timestamps", "created_at and updated_at."),
    "stateful-security-group": ("Stateful security group", "The stateful flag."),
    "subnet_allocation": ("Subnet Allocation", "Subnets from subnet pools."),
    "subnet-dns-publish-fixed-ip": ("Subnet DNS publish fixed IP", "The flag."),
    "subnet-external-network": ("Subnet external network", "router:external on subnets."),
    "subnet-service-types": ("Subnet service types", "Service types of subnets."),
    "tag-creation": ("Tag creation", "Tags given when a resource is created."),
    "uplink-status-propagation": ("Uplink status propagation", "The flag."),
}


def _extension(alias: str) -> dict[str, Any]:
    name, description = EXTENSIONS[alias]
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": UPDATED,
        "links": [],
    }


@router.get("/")
async def root(request: Request) -> JSONResponse:
    href = f"{base_url(request)}/v2.0/"
    return JSONResponse(
        {
            "versions": [
                {"id": "v2.0", "status": "CURRENT", "links": [{"href": href, "rel": "self"}]}
            ]
        }
    )


@router.get("/v2.0")
@router.get("/v2.0/")
async def index(request: Request) -> dict[str, Any]:
    url = f"{base_url(request)}/v2.0"
    return {
        "resources": [
            {
                "name": k.name,
                "collection": k.collection,
                "links": [{"href": f"{url}/{k.path}", "rel": "self"}],
            }
            for k in KINDS.values()
        ]
    }


@router.get("/v2.0/extensions")
async def extensions() -> dict[str, Any]:
    return {"extensions": [_extension(a) for a in sorted(EXTENSIONS)]}


@router.get("/v2.0/extensions/{alias}")
async def extension(alias: str) -> dict[str, Any]:
    if alias not in EXTENSIONS:
        raise faults.not_found("extension", alias)
    return {"extension": _extension(alias)}
