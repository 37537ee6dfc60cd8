"""Admin pages that are not one list: quotas (the defaults and any project's, compute, volume
and network; changed with one PUT per service) and system information (the catalog's services
and endpoints, compute and volume services, network agents)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from overcast.common import errors
from overcast.dashboard import web
from overcast.dashboard.cloud import Get

# (service, the quota body's key, path of a project's quotas, the keys shown)
QUOTAS = (
    (
        "compute",
        "quota_set",
        "/os-quota-sets/{}",
        ("instances", "cores", "ram", "key_pairs", "server_groups", "server_group_members"),
    ),
    (
        "block-storage",
        "quota_set",
        "/os-quota-sets/{}",
        ("volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes"),
    ),
    (
        "network",
        "quota",
        "/v2.0/quotas/{}",
        (
            "network",
            "subnet",
            "port",
            "router",
            "floatingip",
            "security_group",
            "security_group_rule",
        ),
    ),
)


# The defaults every project starts from: compute's and block storage's `default` quota class
# (the network service's defaults are its configuration; the API cannot change them).
DEFAULTS = "default"
_CLASSES = {"compute", "block-storage"}


def _where(project_id: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(service, body key, path, keys) of the quotas shown for `project_id` or the defaults."""
    if project_id != DEFAULTS:
        return [(svc, key, path.format(project_id), keys) for svc, key, path, keys in QUOTAS]
    return [
        (svc, "quota_class_set", f"/os-quota-class-sets/{DEFAULTS}", keys)
        for svc, _key, _path, keys in QUOTAS
        if svc in _CLASSES
    ]


async def _quotas(p: web.Page) -> Response:
    project_id = p.request.query_params.get("project_id") or p.session.project_id
    shown_here = _where(project_id)
    projects, *found = await p.cloud.batch(
        Get("identity", "/projects"),
        *(Get(svc, path, optional=True) for svc, _k, path, _s in shown_here),
    )
    tables = []
    for (service, key, _path, shown), body in zip(shown_here, found, strict=True):
        if body is not None:
            values = body[key]
            tables.append((service, [(k, values.get(k)) for k in shown if k in values]))
    return p.render(
        "quotas.html",
        projects=projects["projects"],
        project_id=project_id,
        defaults=DEFAULTS,
        tables=tables,
    )


async def _set_quotas(p: web.Page) -> Response:
    project_id = p.field("project_id")
    for service, key, path, shown in _where(project_id):
        changes = {}
        for name in shown:
            raw = p.field(f"{service}:{name}")
            if raw != "":
                changes[name] = int(raw) if raw.lstrip("-").isdigit() else raw
        if not changes:
            continue
        try:
            await p.cloud.put(service, path, {key: changes})
        except (errors.BadRequest, errors.Forbidden, errors.NotFound, errors.Conflict) as exc:
            return p.redirect(
                f"/admin/quotas?project_id={project_id}", error=f"{service}: {web.message(exc)}"
            )
    return p.redirect(f"/admin/quotas?project_id={project_id}", "Quotas saved.")


async def _system(p: web.Page) -> Response:
    services, endpoints, compute, volume, agents = await p.cloud.batch(
        Get("identity", "/services"),
        Get("identity", "/endpoints"),
        Get("compute", "/os-services", optional=True),
        Get("block-storage", "/os-services", optional=True),
        Get("network", "/v2.0/agents", optional=True),
    )
    names = {s["id"]: s for s in services["services"]}
    return p.render(
        "system.html",
        services=services["services"],
        endpoints=[(names.get(e["service_id"], {}), e) for e in endpoints["endpoints"]],
        compute=(compute or {}).get("services", []),
        volume=(volume or {}).get("services", []),
        agents=(agents or {}).get("agents", []),
    )


routes = [
    Route("/admin/quotas", web.page(_quotas, admin=True), methods=["GET"]),
    Route("/admin/quotas", web.page(_set_quotas, admin=True), methods=["POST"]),
    Route("/admin/system", web.page(_system, admin=True)),
]
