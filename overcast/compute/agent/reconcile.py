"""Reconciling this host's guests with the database (the agent's side of it).

- `recover_host` (agent start): a build interrupted by a crash goes to ERROR, a delete that was
  under way finishes, other tasks are cleared, guests nobody owns are destroyed.
- `sync_power_states` (periodic) and `sync_one` (driver events): power state from the driver;
  an ACTIVE instance whose guest stopped becomes SHUTOFF, as Nova's sync does.

Called by `agent.manager.ComputeHost`; the cloud-wide half is `conductor.recovery`.
"""

from __future__ import annotations

from typing import Any

from overcast.common import errors, log
from overcast.compute import records, states
from overcast.compute.agent.build import Builds
from overcast.compute.agent.host import ADMIN_CTX, Host

LOG = log.get(__name__)

_STOPPED_POWER = (states.SHUTDOWN, states.NOSTATE, states.CRASHED)


async def recover_host(h: Host, builds: Builds) -> None:
    """Agent start: settle every instance the database puts on this host."""
    known = set(await h.driver.list_instances())
    mine = await h.conductor.call("instances_on_host", ADMIN_CTX, host=h.host)
    for guest in known - {i["uuid"] for i in mine}:
        LOG.info("destroying guest %s that no instance on %s owns", guest, h.host)
        await h.driver.destroy(guest)
    for inst in mine:
        uuid, task = inst["uuid"], inst["task_state"]
        if inst["vm_state"] == states.BUILDING:
            await h.driver.destroy(uuid)
            message = (
                f"Build of instance {uuid} was interrupted: its compute host {h.host} restarted."
            )
            await h.update(
                ADMIN_CTX,
                uuid,
                {
                    "vm_state": states.ERROR,
                    "task_state": None,
                    "host": None,
                    "node": None,
                    "fault": records.fault(message, 500),
                },
            )
            await h.conductor.call("release", ADMIN_CTX, consumer_uuid=uuid)
        elif task == states.DELETING:
            await builds.terminate_instance(ADMIN_CTX, uuid)
        elif task is not None:
            await h.update(ADMIN_CTX, uuid, {"task_state": None})
            inst["task_state"] = None
            await sync_one(h, uuid, await h.power_state(uuid), inst)
        else:
            await sync_one(h, uuid, await h.power_state(uuid), inst)


async def sync_power_states(h: Host) -> None:
    for inst in await h.conductor.call("instances_on_host", ADMIN_CTX, host=h.host):
        if inst["task_state"] is None:
            await sync_one(h, inst["uuid"], await h.power_state(inst["uuid"]), inst)


async def sync_one(h: Host, uuid: str, power: int, inst: dict[str, Any] | None = None) -> None:
    """Bring one instance's record in line with what its guest is doing."""
    inst = inst or await h.conductor.call("get_instance", ADMIN_CTX, uuid=uuid)
    if inst is None or inst["task_state"] is not None or inst["host"] != h.host:
        return
    values: dict[str, Any] = {}
    if power != inst["power_state"]:
        values["power_state"] = power
    vm_state = inst["vm_state"]
    if vm_state == states.ACTIVE and power in _STOPPED_POWER:
        values["vm_state"] = states.STOPPED
    elif vm_state == states.STOPPED and power == states.RUNNING:
        try:
            await h.driver.power_off(uuid)
            values["power_state"] = states.SHUTDOWN
        except errors.OvercastError:
            LOG.warning("could not stop %s, which should be stopped", uuid)
    if values:
        await h.update(ADMIN_CTX, uuid, values, None)
