"""GET /extensions: the v2.1 API's areas under the names clients knew from the v2 extensions,
for tools that still look them up (Tempest's `api_extensions`, old novaclient). Overcast lists
what it serves; microversions, not this list, say what a request may use."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from overcast.common import errors
from overcast.compute.api.deps import Req, req

router = APIRouter(prefix="/v2.1/extensions")

# (name, alias, what it is)
EXTENSIONS = (
    ("AdminActions", "os-admin-actions", "Reset state and other admin-only server actions."),
    ("Aggregates", "os-aggregates", "Host aggregates."),
    ("AvailabilityZone", "os-availability-zone", "Availability zones."),
    ("ConsoleOutput", "os-console-output", "A server's console log."),
    ("ConsoleAuthTokens", "os-console-auth-tokens", "What a console token opens, for admins."),
    ("Consoles", "os-consoles", "Remote consoles of servers."),
    ("RemoteConsoles", "os-remote-consoles", "noVNC and serial console URLs."),
    ("DiskConfig", "OS-DCF", "Disk partitioning of servers."),
    ("ExtendedStatus", "OS-EXT-STS", "Task, power and VM states of servers."),
    ("ExtendedServerAttributes", "OS-EXT-SRV-ATTR", "Host placement of servers."),
    ("FlavorAccess", "os-flavor-access", "Private flavors and their projects."),
    ("FlavorExtraSpecs", "os-flavor-extra-specs", "Extra specs of flavors."),
    ("FlavorManage", "os-flavor-manage", "Creating and deleting flavors."),
    ("Hosts", "os-hosts", "Hosts and their resources."),
    ("Hypervisors", "os-hypervisors", "Hypervisors of the cloud."),
    ("InstanceActions", "os-instance-actions", "The actions taken on a server."),
    ("Keypairs", "os-keypairs", "Key pairs."),
    ("Lock", "os-lock-server", "Locking servers."),
    ("MigrateServer", "os-migrate-server", "Cold and live migration."),
    ("Migrations", "os-migrations", "Migrations of servers."),
    ("PauseServer", "os-pause-server", "Pausing servers."),
    ("QuotaClasses", "os-quota-class-sets", "Default quotas."),
    ("Quotas", "os-quota-sets", "Per-project quotas."),
    ("Rescue", "os-rescue", "Rescue mode."),
    ("ServerDiagnostics", "os-server-diagnostics", "Diagnostics of servers."),
    ("ServerGroups", "os-server-groups", "Server groups."),
    ("ServerUsage", "OS-SRV-USG", "Launch and termination times of servers."),
    ("Services", "os-services", "Compute services."),
    ("Shelve", "os-shelve", "Shelving servers."),
    ("SimpleTenantUsage", "os-simple-tenant-usage", "Usage per project."),
    ("SuspendServer", "os-suspend-server", "Suspending servers."),
    ("InstanceUsageAuditLog", "os-instance-usage-audit-log", "Usage audit periods."),
    # Nova's proxies to the network and block storage services (to microversion 2.35).
    ("SecurityGroups", "os-security-groups", "Security groups, through the network service."),
    ("FloatingIps", "os-floating-ips", "Floating IPs, through the network service."),
    ("FloatingIpPools", "os-floating-ip-pools", "External networks as floating IP pools."),
    ("TenantNetworks", "os-tenant-networks", "The networks a project may use."),
    ("Volumes", "os-volumes", "Volumes and snapshots, through the block storage service."),
)


def _view(name: str, alias: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "alias": alias,
        "description": description,
        "namespace": f"http://docs.openstack.org/compute/ext/{alias}/api/v1.1",
        "updated": "2014-12-03T00:00:00Z",
        "links": [],
    }


@router.get("")
async def index(r: Req = Depends(req)) -> dict[str, Any]:
    return {"extensions": [_view(*e) for e in EXTENSIONS]}


@router.get("/{alias}")
async def show(alias: str, r: Req = Depends(req)) -> dict[str, Any]:
    for entry in EXTENSIONS:
        if entry[1] == alias:
            return {"extension": _view(*entry)}
    raise errors.NotFound(f"Extension {alias} could not be found.")
