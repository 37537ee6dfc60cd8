"""Where the conductor and the agents are on the bus: the conductor's topic, one host's agent,
the marker for "whatever the task state" in guarded instance updates, and the event a
conductor opens when it takes a build off the bus (its recovery looks for them).

Imported by the API side, the agents and the conductor alike; it imports nothing.
"""

from __future__ import annotations

TOPIC = "compute-conductor"
ANY = "__any__"
BUILD_EVENT = "conductor_schedule_and_build_instances"
# A boot's spec, as the API casts it to the conductor: {instance uuid: its action's id}.
ACTIONS = "action_ids"
# The agent's event of a build, which the conductor opens as it casts the build to the host.
AGENT_BUILD_EVENT = "compute__do_build_and_run_instance"


def agent(host: str) -> str:
    """The bus target of one host's compute agent."""
    return f"compute.{host}"
