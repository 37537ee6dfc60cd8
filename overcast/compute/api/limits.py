"""limits: the caller's absolute compute limits and what the project uses of them (an admin may
ask for another project with `tenant_id`). Rate limits are not enforced, so `rate` is empty."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast.compute import quotas
from overcast.compute.api.deps import Req, req

router = APIRouter()

# (name in the answer, quota resource, shown below this microversion or None)
_LIMITS = (
    ("maxImageMeta", "metadata_items", "2.39"),
    ("maxPersonality", "injected_files", "2.57"),
    ("maxPersonalitySize", "injected_file_content_bytes", "2.57"),
    ("maxSecurityGroupRules", "security_group_rules", "2.36"),
    ("maxSecurityGroups", "security_groups", "2.36"),
    ("maxServerMeta", "metadata_items", None),
    ("maxTotalCores", "cores", None),
    ("maxTotalFloatingIps", "floating_ips", "2.36"),
    ("maxTotalInstances", "instances", None),
    ("maxTotalKeypairs", "key_pairs", None),
    ("maxTotalRAMSize", "ram", None),
    ("maxServerGroups", "server_groups", None),
    ("maxServerGroupMembers", "server_group_members", None),
)
_USED = (
    ("totalCoresUsed", "cores", None),
    ("totalInstancesUsed", "instances", None),
    ("totalRAMUsed", "ram", None),
    ("totalSecurityGroupsUsed", "security_groups", "2.36"),
    ("totalFloatingIpsUsed", "floating_ips", "2.36"),
    ("totalServerGroupsUsed", "server_groups", None),
)


@router.get("/v2.1/limits")
async def show(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce("os_compute_api:limits")
    project_id = request.query_params.get("tenant_id") or r.ctx.project_id or ""
    if project_id != r.ctx.project_id:
        r.enforce("os_compute_api:limits:other_project", {"project_id": project_id})
    async with r.state.db.reader() as session:
        limits = await quotas.limits(session, project_id)
        used = await quotas.usage(session, project_id)
    absolute: dict[str, int] = {}
    for table, source in ((_LIMITS, limits), (_USED, used)):
        for name, resource, until in table:
            if until is None or not r.at_least(until):
                absolute[name] = source.get(resource, 0)
    return {"limits": {"rate": [], "absolute": absolute}}
