"""Network RBAC policies: share a network with one project (`access_as_shared`) or let it
use the network as an external one (`access_as_external`); `*` targets every project."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select

from overcast.common.context import RequestContext
from overcast.network import attributes as a
from overcast.network import faults, networks, quotas
from overcast.network.kinds import Kind, Op
from overcast.network.models import Network, Port, RBACPolicy


class RBACPolicies(Kind):
    name = "rbac_policy"
    collection = "rbac_policies"
    path = "rbac-policies"
    model = RBACPolicy
    tagged = False
    attrs = {
        "id": a.Attr(post=False),
        "project_id": a.Attr(convert=a.project),
        "object_type": a.Attr(convert=a.one_of("network"), default=a.MISSING),
        "object_id": a.Attr(convert=a.uuid_, default=a.MISSING),
        "action": a.Attr(
            convert=a.one_of("access_as_shared", "access_as_external"), default=a.MISSING
        ),
        "target_tenant": a.Attr(convert=a.project, put=True, column="target_project"),
        "target_project": a.Attr(convert=a.project, put=True),
    }

    def visible(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        if ctx.is_admin:
            return None
        project = ctx.project_id or ""
        return (RBACPolicy.project_id == project) | (RBACPolicy.target_project == project)

    async def views(self, op: Op, rows: Sequence[RBACPolicy]) -> list[dict[str, Any]]:
        return [
            {
                "id": r.id,
                "project_id": r.project_id,
                "tenant_id": r.project_id,
                "object_type": r.object_type,
                "object_id": r.object_id,
                "action": r.action,
                "target_tenant": r.target_project,
                "target_project": r.target_project,
            }
            for r in rows
        ]

    def target(self, view: dict[str, Any]) -> dict[str, Any]:
        return {
            "project_id": view.get("project_id", ""),
            "tenant_id": view.get("project_id", ""),
            "action": view.get("action", ""),
        }

    async def create_target(self, op: Op, values: dict[str, Any]) -> dict[str, Any]:
        project = values.get("project_id") or op.ctx.project_id or ""
        return {"project_id": project, "tenant_id": project, "action": values["action"]}

    async def create(self, op: Op, values: dict[str, Any]) -> RBACPolicy:
        target = values.get("target_project") or values.get("target_tenant")
        if not target:
            raise faults.bad(
                "Failed to parse request. Required attribute 'target_tenant' not specified",
                "HTTPBadRequest",
            )
        net = await networks.network_for(op, values["object_id"])
        if not op.admin and net.project_id != op.ctx.project_id:
            raise faults.not_found("network", net.id)
        project = values.get("project_id") or op.ctx.project_id or ""
        await quotas.check(
            op.session, op.st.settings.network.default_quotas, "rbac_policy", project
        )
        duplicate = await op.session.scalar(
            select(RBACPolicy.id).where(
                RBACPolicy.object_id == net.id,
                RBACPolicy.action == values["action"],
                RBACPolicy.target_project == target,
            )
        )
        if duplicate is not None:
            raise faults.conflict(
                "An RBAC policy already exists with those values.", "DuplicateRbacPolicy"
            )
        row = RBACPolicy(
            project_id=project,
            object_type="network",
            object_id=net.id,
            action=values["action"],
            target_project=target,
        )
        op.session.add(row)
        await op.session.flush()
        return row

    async def update(self, op: Op, row: RBACPolicy, values: dict[str, Any]) -> RBACPolicy:
        target = values.get("target_project") or values.get("target_tenant")
        if target and target != row.target_project:
            await self._refuse_if_used(op, row)
            row.target_project = target
        return row

    async def delete(self, op: Op, row: RBACPolicy) -> None:
        await self._refuse_if_used(op, row)
        await op.session.delete(row)

    async def _refuse_if_used(self, op: Op, row: RBACPolicy) -> None:
        if row.action != "access_as_shared":
            return
        net = await op.session.get(Network, row.object_id)
        if net is None or net.shared:
            return
        stmt = (
            select(func.count())
            .select_from(Port)
            .where(
                Port.network_id == row.object_id,
                Port.project_id != net.project_id,
                Port.project_id != "",
            )
        )
        if row.target_project != "*":
            stmt = stmt.where(Port.project_id == row.target_project)
        if await op.session.scalar(stmt):
            raise faults.conflict(
                f"RBAC policy on object {row.object_id} cannot be removed because other objects depend on it.",
                "RbacPolicyInUse",
            )
