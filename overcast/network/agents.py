"""Agents of the dataplane as the API shows them (`openstack network agent list/show/set/
delete`): they report in with heartbeats (see `network/agent`) and are down once they stop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, false

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.db.base import utcnow
from overcast.network import attributes as a
from overcast.network import bindings
from overcast.network.kinds import Kind, Op
from overcast.network.models import Agent


def _time(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


class Agents(Kind):
    name = "agent"
    collection = "agents"
    path = "agents"
    model = Agent
    tagged = False
    owned = False
    attrs = {
        "id": a.Attr(post=False),
        "agent_type": a.Attr(post=False),
        "binary": a.Attr(post=False),
        "topic": a.Attr(post=False),
        "host": a.Attr(post=False),
        "availability_zone": a.Attr(post=False),
        "admin_state_up": a.Attr(convert=a.boolean, post=False, put=True),
        "description": a.Attr(convert=a.string(255), post=False, put=True),
        "alive": a.Attr(post=False, sort=False),
        "configurations": a.Attr(post=False, filter=False, sort=False),
        "created_at": a.Attr(post=False),
        "started_at": a.Attr(post=False),
        "heartbeat_timestamp": a.Attr(post=False),
        "resources_synced": a.Attr(post=False, filter=False),
    }

    def visible(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        """Only admins see agents (a member's list is empty, as Neutron's policy filter
        leaves it)."""
        return None if ctx.is_admin else false()

    def filter_clause(self, op: Op, key: str, values: list[str]) -> ColumnElement[bool] | None:
        if key != "alive":
            return None
        return _alive_clause(a.boolean(values[0]), op.st.settings.network.agent_down_time)

    def target(self, view: dict[str, Any]) -> dict[str, Any]:
        return {"project_id": "", "host": view.get("host", "")}

    async def views(self, op: Op, rows: Sequence[Agent]) -> list[dict[str, Any]]:
        down = op.st.settings.network.agent_down_time
        return [
            {
                "id": r.id,
                "agent_type": r.agent_type,
                "binary": r.binary,
                "topic": r.topic,
                "host": r.host,
                "availability_zone": r.availability_zone,
                "admin_state_up": r.admin_state_up,
                "description": r.description,
                "alive": bindings.alive(r, down),
                "configurations": {
                    k: v for k, v in r.configurations.items() if k not in ("vif_details",)
                },
                "created_at": _time(r.created_at),
                "started_at": _time(r.started_at),
                "heartbeat_timestamp": _time(r.heartbeat_timestamp),
                "resources_synced": r.resources_synced,
            }
            for r in rows
        ]

    async def create(self, op: Op, values: dict[str, Any]) -> Agent:
        raise errors.MethodNotAllowed(
            "Agents are not created through the API; they report in.", kind="HTTPMethodNotAllowed"
        )


def _alive_clause(alive: bool, down_after: float) -> ColumnElement[bool]:
    cutoff = utcnow() - dt.timedelta(seconds=down_after)
    return Agent.heartbeat_timestamp >= cutoff if alive else Agent.heartbeat_timestamp < cutoff
