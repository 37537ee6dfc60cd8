"""Port binding, as ML2's agent-based mechanism drivers do it: a port bound to a host takes
the VIF type and details that host's live L2 agent reported in its heartbeat (its dataplane
driver's capabilities), provided the agent serves the network's segment type. The details'
name templates (`{network_id:.11}`, `{port_id:.11}`) are filled in for the port."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.db.base import utcnow
from overcast.network.models import Agent, Port, Segment

UNBOUND = "unbound"
FAILED = "binding_failed"
L2 = "l2"  # the `kind` an L2 agent reports in its configurations


def alive(agent: Agent, down_after: float) -> bool:
    return utcnow() - agent.heartbeat_timestamp < dt.timedelta(seconds=down_after)


async def l2_agent(session: AsyncSession, host: str) -> Agent | None:
    rows = await session.execute(select(Agent).where(Agent.host == host))
    return next((a for a in rows.scalars() if a.configurations.get("kind") == L2), None)


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


async def bind(session: AsyncSession, port: Port, down_after: float) -> None:
    """Set the port's VIF type and details for its host (unbound without one)."""
    if not port.host:
        _set(port, UNBOUND, {})
        return
    agent = await l2_agent(session, port.host)
    seg = (
        (
            await session.execute(
                select(Segment)
                .where(Segment.network_id == port.network_id)
                .order_by(Segment.segment_index)
            )
        )
        .scalars()
        .first()
    )
    config = agent.configurations if agent is not None else {}
    usable = (
        agent is not None
        and agent.admin_state_up
        and alive(agent, down_after)
        and seg is not None
        and seg.network_type in config.get("network_types", [])
        and (port.vnic_type in config.get("vnic_types", ["normal"]))
    )
    if not usable:
        _set(port, FAILED, {})
        return
    assert seg is not None
    names = {
        "network_id": port.network_id,
        "port_id": port.id,
        "segmentation_id": str(seg.segmentation_id or ""),
    }
    _set(port, config.get("vif_type", "other"), _fill(config.get("vif_details", {}), names))


def _set(port: Port, vif_type: str, details: dict[str, Any]) -> None:
    """Only what differs: an attribute given its own value again is still one that the next
    flush works through (a port created unbound would cost it a flush of its own)."""
    if port.vif_type != vif_type:
        port.vif_type = vif_type
    if port.vif_details != details:
        port.vif_details = details
