"""The conductor: the agents' only way to the database, and the orchestrator of builds and moves.

Served on the bus as topic `compute-conductor` (`rpc.TOPIC`) by one endpoint made of small
pieces, each handed the settings, database and bus: `agents` (reads and writes on the agents'
behalf), `builds` (schedule, build, retry) and `moves` (resize, migrations, evacuation,
unshelve). `writes` holds the instance writes the pieces and the API share; `recovery` the
cloud-wide reconciliation. Calls go one way: endpoint → pieces → writes.
"""

from __future__ import annotations

from typing import Any

from overcast.common.bus import Bus
from overcast.common.bus.endpoints import Endpoint
from overcast.common.config import Settings
from overcast.common.db.session import Database
from overcast.compute.conductor.agents import AgentAccess
from overcast.compute.conductor.builds import Builds
from overcast.compute.conductor.moves import Moves, migration_dict
from overcast.compute.conductor.rpc import ANY, TOPIC, agent
from overcast.compute.conductor.writes import destroy_record, update_instance

__all__ = [
    "ANY",
    "TOPIC",
    "Conductor",
    "agent",
    "destroy_record",
    "migration_dict",
    "update_instance",
]


class HostStart:
    """A compute host's start in one call, so that a thousand hosts starting at once cost the
    conductor one round trip each."""

    def __init__(self, agents: AgentAccess, moves: Moves) -> None:
        self.agents, self.moves = agents, moves

    async def recover_host(self, ctx: dict[str, Any], host: str) -> list[dict[str, Any]]:
        """The moves whose step ran on `host` are aborted; then the instances on it, each
        with the live migration from `host` that it is past the switch-over of, if any
        (`"switched_over"`: the host finishes it)."""
        await self.moves.abort_interrupted_moves(ctx, host)
        found = await self.agents.instances_on_host(ctx, host)
        switched = await self.moves.switched_over_from(host)
        for inst in found:
            if inst["uuid"] in switched:
                inst["switched_over"] = switched[inst["uuid"]]
        return found


class Conductor(Endpoint):
    """The conductor's bus endpoint."""

    def __init__(self, settings: Settings, db: Database, bus: Bus) -> None:
        agents, moves = AgentAccess(settings, db, bus), Moves(settings, db, bus)
        super().__init__(agents, Builds(settings, db, bus), moves, HostStart(agents, moves))
