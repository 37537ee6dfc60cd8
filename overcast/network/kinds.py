"""The shape every Neutron resource shares (`Kind`) and the unit of work a request runs in
(`Op`): the generic API (`api/resources.py`) lists, shows, creates, updates and deletes any
resource through its Kind; each resource module subclasses Kind with its own logic.

Visibility is decided in the query (`visible`), as Neutron's model query does; what a caller
may do to a resource it can see is decided by policy on the resource's view (`target`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.context import RequestContext
from overcast.network import faults
from overcast.network.attributes import Attr
from overcast.network.models import RBACPolicy
from overcast.network.state import NetworkState


@dataclass
class Op:
    """One request's unit of work: the service state, the caller and the open session."""

    st: NetworkState
    ctx: RequestContext
    session: AsyncSession
    # What to do once the transaction has committed (tell the agents).
    after: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    l3_changed: bool = False  # the L3 agents are told once, after commit
    # Rows read once per request (a network a port is made on: its policy target, then the
    # port), keyed by (table, id); the caller's visibility is the same throughout.
    memo: dict[tuple[str, str], Any] = field(default_factory=dict)
    # What this request wrote for the rows it created (tags, fixed IPs, security groups), so
    # that their views need not read it back.
    made: dict[str, dict[str, Any]] = field(default_factory=dict)

    def later(self, action: Callable[[], Awaitable[None]]) -> None:
        self.after.append(action)

    def routers_changed(self) -> None:
        """A router, floating IP or port forwarding changed: after commit, every L3 agent
        re-reads its routers at once (Neutron's `routers_updated`), not at its next pass."""
        if self.l3_changed:
            return
        self.l3_changed = True

        async def fanout() -> None:
            await self.st.bus.fanout("network-agent", "routers_changed", {})

        self.later(fanout)

    @property
    def admin(self) -> bool:
        return self.ctx.is_admin

    def allowed(self, rule: str, target: dict[str, Any]) -> bool:
        return self.st.policy.check(rule, self.ctx, target)

    def enforce(self, rule: str, target: dict[str, Any]) -> None:
        if not self.allowed(rule, target):
            raise faults.forbidden(rule)


def stamp(value: dt.datetime | None) -> str | None:
    """Neutron's timestamps: ISO 8601 to the second, UTC, with a Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def rbac_targets(ctx: RequestContext, object_type: str, action: str) -> Any:
    """Ids of `object_type` objects shared with the caller's project by an RBAC policy."""
    return select(RBACPolicy.object_id).where(
        RBACPolicy.object_type == object_type,
        RBACPolicy.action == action,
        RBACPolicy.target_project.in_([ctx.project_id or "", "*"]),
    )


class Kind:
    """One resource type: its names, table, attribute map and logic."""

    name: ClassVar[str]  # "network"
    collection: ClassVar[str]  # "networks"
    path: ClassVar[str]  # "networks", "security-groups"
    model: ClassVar[Any]
    attrs: ClassVar[dict[str, Attr]]
    # Attributes only some callers see (policy `get_<name>:<attr>`), and those a caller must
    # be allowed to set (`create_<name>:<attr>`, `update_<name>:<attr>`).
    guarded: ClassVar[tuple[str, ...]] = ()
    tagged: ClassVar[bool] = True
    owned: ClassVar[bool] = True  # has project_id; a caller sees its own

    def visible(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        """The rows `ctx` may see; None for all of them."""
        if ctx.is_admin or not self.owned:
            return None
        return self.model.project_id == (ctx.project_id or "")

    async def prepare(self, op: Op) -> None:
        """Make what a list by this caller must find (a project's default group)."""

    def filter_clause(self, op: Op, key: str, values: list[str]) -> ColumnElement[bool] | None:
        """A clause for a filter that is not a plain column; None when `key` is not one."""
        return None

    async def views(self, op: Op, rows: Sequence[Any]) -> list[dict[str, Any]]:
        """The API view of each row, in order (batch-load related rows here)."""
        raise NotImplementedError

    def target(self, view: dict[str, Any]) -> dict[str, Any]:
        """What policy rules about this resource see."""
        return {"project_id": view.get("project_id", ""), "tenant_id": view.get("project_id", "")}

    async def target_of(self, op: Op, row: Any, view: dict[str, Any]) -> dict[str, Any]:
        """The policy target of an existing row (`target` of its view by default)."""
        return self.target(view)

    async def create_target(self, op: Op, values: dict[str, Any]) -> dict[str, Any]:
        """The policy target of a create request (the new resource's owner by default)."""
        project = values.get("project_id") or op.ctx.project_id or ""
        return {"project_id": project, "tenant_id": project}

    async def load(self, op: Op, ident: str, *, lock: bool = False) -> Any:
        """The row `ident` if the caller may see it, else the resource's 404."""
        stmt = select(self.model).where(self.model.id == ident)
        clause = self.visible(op.ctx)
        if clause is not None:
            stmt = stmt.where(clause)
        if lock:
            stmt = stmt.with_for_update()
        row = (await op.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise faults.not_found(self.name, ident)
        return row

    async def create(self, op: Op, values: dict[str, Any]) -> Any:
        raise NotImplementedError

    async def update(self, op: Op, row: Any, values: dict[str, Any]) -> Any:
        for key, value in values.items():
            setattr(row, self.attrs[key].column or key, value)
        return row

    async def delete(self, op: Op, row: Any) -> None:
        await op.session.delete(row)


def owner_or_clause(
    model: Any, ctx: RequestContext, *more: ColumnElement[bool]
) -> ColumnElement[bool]:
    return or_(model.project_id == (ctx.project_id or ""), *more)


async def network_owner(op: Op, network_id: str) -> str:
    """The project that owns `network_id` (for `network_owner` policy rules)."""
    from overcast.network.models import Network

    found = await op.session.scalar(select(Network.project_id).where(Network.id == network_id))
    return str(found or "")
