"""The compute agent (nova-compute): one per host, driving that host's hypervisor driver.

`manager.ComputeHost` is the agent; `host.Host` is what each of its pieces is handed. The
pieces serve the bus together as `compute.<host>`: `build` (build, delete), `actions` (power,
pause, suspend, console), `moves` (rescue, rebuild, resize, migrations), `images` (snapshot,
shelve). `reconcile` settles the host's guests with the database. Calls go one way:
manager → pieces → host → driver and conductor.
"""

from __future__ import annotations

from overcast.compute.agent.host import Host, spec_for
from overcast.compute.agent.manager import ComputeHost

__all__ = ["ComputeHost", "Host", "spec_for"]
