"""The admin's resources that are lists, forms and actions (see `kinds.py`): projects, users
(with role assignments), groups, roles, flavors (access, extra specs), hypervisors, compute
services (enable, disable), aggregates, zones, and every project's instances. The pages answer
403 to non-admins; the APIs' policies would refuse them anyway."""

from __future__ import annotations

from typing import Any

from overcast.dashboard import paging, web
from overcast.dashboard.kinds import Action, Field, Kind, Values, routes_for


async def _assign(p: web.Page, user_id: str, v: Values) -> Any:
    path = f"/projects/{v.get('project_id')}/users/{user_id}/roles/{v.get('role_id')}"
    return await p.cloud.call("PUT", "identity", path)


async def _unassign(p: web.Page, user_id: str, v: Values) -> Any:
    path = f"/projects/{v.get('project_id')}/users/{user_id}/roles/{v.get('role_id')}"
    await p.cloud.delete("identity", path)


async def _flavor_action(p: web.Page, flavor_id: str, body: Values) -> Any:
    return await p.cloud.post("compute", f"/flavors/{flavor_id}/action", body)


async def _extra_spec(p: web.Page, flavor_id: str, v: Values) -> Any:
    body = {"extra_specs": {v.get("key", ""): v.get("value", "")}}
    return await p.cloud.post("compute", f"/flavors/{flavor_id}/os-extra_specs", body)


async def _service_status(p: web.Page, service_id: str, v: Values, status: str) -> Any:
    body: Values = {"status": status}
    if status == "disabled" and v.get("disabled_reason"):
        body["disabled_reason"] = v["disabled_reason"]
    return await p.cloud.put("compute", f"/os-services/{service_id}", body)


async def _off_host(p: web.Page, service_id: str, evacuate: bool) -> Any:
    """Move every instance off a compute service's host, one request per instance as Horizon
    does (compute has no host-wide call): live migration for running ones and cold migration
    for the rest, or evacuation when the host is down. The first refusal stops and is shown."""
    services = (await p.cloud.get("compute", "/os-services", binary="nova-compute"))["services"]
    host = next((s["host"] for s in services if str(s["id"]) == service_id), None)
    if host is None:
        return None
    found = await p.cloud.get("compute", "/servers/detail", all_tenants=1, host=host)
    for server in found["servers"]:
        path = f"/servers/{server['id']}/action"
        if evacuate:
            await p.cloud.post("compute", path, {"evacuate": {}})
        elif server["status"] == "ACTIVE":
            await p.cloud.post(
                "compute", path, {"os-migrateLive": {"host": None, "block_migration": "auto"}}
            )
        else:
            await p.cloud.post("compute", path, {"migrate": None})
    return None


async def _aggregate(p: web.Page, aggregate_id: str, verb: str, v: Values) -> Any:
    return await p.cloud.post("compute", f"/os-aggregates/{aggregate_id}/action", {verb: v})


def _flavor_body(_p: web.Page, v: Values) -> Values:
    public = bool(v.pop("is_public", False))
    return {"flavor": {**v, "os-flavor-access:is_public": public}}


def _user_body(_p: web.Page, v: Values) -> Values:
    v.setdefault("domain_id", "default")
    return {"user": v}


PROJECTS = Kind(
    "projects",
    "Projects",
    "identity",
    "/projects",
    "projects",
    "project",
    (("Name", "name"), ("Id", "id"), ("Domain", "domain_id"), ("Enabled", "enabled")),
    section="admin",
    fields=(Field("name", "Name", required=True), Field("description", "Description")),
)
ROLES = Kind(
    "roles",
    "Roles",
    "identity",
    "/roles",
    "roles",
    "role",
    (("Name", "name"), ("Id", "id")),
    section="admin",
    fields=(Field("name", "Name", required=True),),
)
ASSIGNMENTS = Kind(
    "assignments",
    "Role assignments",
    "identity",
    "/role_assignments",
    "role_assignments",
    "role_assignment",
    (
        ("Role", "role.name"),
        ("User", "user.name"),
        ("Group", "group.name"),
        ("Project", "scope.project.name"),
    ),
    section="admin",
    id_key="role.id",
    deletable=False,
    list_only=True,
    params=lambda _p: {"include_names": "true"},
)
USERS = Kind(
    "users",
    "Users",
    "identity",
    "/users",
    "users",
    "user",
    (
        ("Name", "name"),
        ("Id", "id"),
        ("Email", "email"),
        ("Enabled", "enabled"),
        ("Default project", "default_project_id"),
    ),
    section="admin",
    body=_user_body,
    fields=(
        Field("name", "Name", required=True),
        Field("password", "Password", "password"),
        Field("email", "Email"),
        Field("default_project_id", "Default project", "select", choices="projects"),
    ),
    actions=(
        Action(
            "assign",
            "Give a role in a project",
            (
                Field("project_id", "Project", "select", choices="projects", required=True),
                Field("role_id", "Role", "select", choices="roles", required=True),
            ),
            _assign,
        ),
        Action(
            "unassign",
            "Take a role away",
            (
                Field("project_id", "Project", "select", choices="projects", required=True),
                Field("role_id", "Role", "select", choices="roles", required=True),
            ),
            _unassign,
            danger=True,
        ),
    ),
    children=(("assignments", "user.id"),),
)
GROUPS = Kind(
    "groups",
    "Groups",
    "identity",
    "/groups",
    "groups",
    "group",
    (("Name", "name"), ("Id", "id"), ("Description", "description")),
    section="admin",
    fields=(Field("name", "Name", required=True), Field("description", "Description")),
    actions=(
        Action(
            "add-user",
            "Add a user",
            (Field("user_id", "User", "select", choices="users", required=True),),
            lambda p, i, v: p.cloud.call(
                "PUT", "identity", f"/groups/{i}/users/{v.get('user_id')}"
            ),
        ),
        Action(
            "remove-user",
            "Remove a user",
            (Field("user_id", "User", "select", choices="users", required=True),),
            lambda p, i, v: p.cloud.delete("identity", f"/groups/{i}/users/{v.get('user_id')}"),
        ),
    ),
)
FLAVORS = Kind(
    "flavors",
    "Flavors",
    "compute",
    "/flavors",
    "flavors",
    "flavor",
    (
        ("Name", "name"),
        ("VCPUs", "vcpus"),
        ("RAM (MiB)", "ram"),
        ("Disk (GiB)", "disk"),
        ("Public", "os-flavor-access:is_public"),
        ("Extra specs", "extra_specs"),
    ),
    section="admin",
    list_path="/flavors/detail",
    body=_flavor_body,
    params=lambda _p: {"is_public": "None"},
    fields=(
        Field("name", "Name", required=True),
        Field("vcpus", "VCPUs", "number", required=True),
        Field("ram", "RAM (MiB)", "number", required=True),
        Field("disk", "Disk (GiB)", "number", required=True),
        Field("is_public", "Public", "checkbox"),
    ),
    actions=(
        Action(
            "add-access",
            "Give a project access",
            (Field("tenant", "Project", "select", choices="projects", required=True),),
            lambda p, i, v: _flavor_action(p, i, {"addTenantAccess": v}),
        ),
        Action(
            "remove-access",
            "Take a project's access away",
            (Field("tenant", "Project", "select", choices="projects", required=True),),
            lambda p, i, v: _flavor_action(p, i, {"removeTenantAccess": v}),
        ),
        Action(
            "extra-spec",
            "Set an extra spec",
            (Field("key", "Key", required=True), Field("value", "Value", required=True)),
            _extra_spec,
        ),
    ),
    paging=paging.Paging(
        {"sort_key": "flavorid", "sort_dir": "asc"}, {"sort_key": "flavorid", "sort_dir": "desc"}
    ),
)
HYPERVISORS = Kind(
    "hypervisors",
    "Hypervisors",
    "compute",
    "/os-hypervisors",
    "hypervisors",
    "hypervisor",
    (
        ("Host", "hypervisor_hostname"),
        ("State", "state"),
        ("Status", "status"),
        ("Type", "hypervisor_type"),
        ("Host IP", "host_ip"),
    ),
    section="admin",
    label="hypervisor_hostname",
    list_path="/os-hypervisors/detail",
    deletable=False,
    paging=paging.FORWARD_ONLY,
)
COMPUTE_SERVICES = Kind(
    "compute-services",
    "Compute services",
    "compute",
    "/os-services",
    "services",
    "service",
    (
        ("Binary", "binary"),
        ("Host", "host"),
        ("Zone", "zone"),
        ("Status", "status"),
        ("State", "state"),
        ("Disabled reason", "disabled_reason"),
    ),
    section="admin",
    label="host",
    list_only=True,
    deletable=False,
    actions=(
        Action("enable", "Enable", (), lambda p, i, v: _service_status(p, i, v, "enabled")),
        Action(
            "disable",
            "Disable",
            (Field("disabled_reason", "Reason"),),
            lambda p, i, v: _service_status(p, i, v, "disabled"),
            danger=True,
        ),
        Action(
            "migrate-off",
            "Migrate every instance off this host",
            (),
            lambda p, i, v: _off_host(p, i, evacuate=False),
        ),
        Action(
            "evacuate-off",
            "Evacuate every instance off (host down)",
            (),
            lambda p, i, v: _off_host(p, i, evacuate=True),
            danger=True,
        ),
    ),
)
AGGREGATES = Kind(
    "aggregates",
    "Host aggregates",
    "compute",
    "/os-aggregates",
    "aggregates",
    "aggregate",
    (("Name", "name"), ("Zone", "availability_zone"), ("Hosts", "hosts"), ("Metadata", "metadata")),
    section="admin",
    fields=(Field("name", "Name", required=True), Field("availability_zone", "Availability zone")),
    actions=(
        Action(
            "add-host",
            "Add a host",
            (Field("host", "Host", required=True),),
            lambda p, i, v: _aggregate(p, i, "add_host", v),
        ),
        Action(
            "remove-host",
            "Remove a host",
            (Field("host", "Host", required=True),),
            lambda p, i, v: _aggregate(p, i, "remove_host", v),
        ),
    ),
)
ZONES = Kind(
    "zones",
    "Availability zones",
    "compute",
    "/os-availability-zone/detail",
    "availabilityZoneInfo",
    "availabilityZoneInfo",
    (("Zone", "zoneName"), ("Available", "zoneState.available"), ("Hosts", "hosts")),
    section="admin",
    label="zoneName",
    id_key="zoneName",
    list_only=True,
    deletable=False,
)
ALL_INSTANCES = Kind(
    "instances",
    "All instances",
    "compute",
    "/servers",
    "servers",
    "server",
    (
        ("Name", "name"),
        ("Project", "tenant_id"),
        ("Status", "status"),
        ("Host", "OS-EXT-SRV-ATTR:host"),
        ("Flavor", "flavor.original_name"),
        ("Created", "created"),
    ),
    section="admin",
    list_path="/servers/detail",
    deletable=False,
    params=lambda _p: {"all_tenants": "1"},
    paging=paging.sorted_by("created_at"),
)

routes = routes_for(
    PROJECTS,
    ROLES,
    ASSIGNMENTS,
    USERS,
    GROUPS,
    FLAVORS,
    HYPERVISORS,
    COMPUTE_SERVICES,
    AGGREGATES,
    ZONES,
    ALL_INSTANCES,
)
