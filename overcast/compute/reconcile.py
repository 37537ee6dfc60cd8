"""Reconciling the database with the hosts: what the agents do at start and periodically, and
what the service does once at start for the whole cloud.

- `recover_host` (agent start): a build interrupted by a crash goes to ERROR, a delete that was
  under way finishes, other tasks are cleared, guests nobody owns are destroyed.
- `sync_power_states` (periodic) and `sync_one` (driver events): power state from the driver;
  an ACTIVE instance whose guest stopped becomes SHUTOFF, as Nova's sync does.
- `recover_cloud` (service start) and `expire_builds` (periodic): builds that never reached a
  host, allocations of instances that do not exist, and node counters recounted.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from overcast.common import errors, log
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.compute import records, states
from overcast.compute.models import hosts, instances
from overcast.compute.scheduler import claims

if TYPE_CHECKING:
    from overcast.compute.agent import ComputeHost

LOG = log.get(__name__)

ADMIN_CTX: dict[str, Any] = {"roles": ["admin"], "request_id": ""}
_STOPPED_POWER = (states.SHUTDOWN, states.NOSTATE, states.CRASHED)


async def recover_host(h: ComputeHost) -> None:
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
            await h.endpoint.terminate_instance(ADMIN_CTX, uuid)
        elif task is not None:
            await h.update(ADMIN_CTX, uuid, {"task_state": None})
            inst["task_state"] = None
            await sync_one(h, uuid, await h.power_state(uuid), inst)
        else:
            await sync_one(h, uuid, await h.power_state(uuid), inst)


async def sync_power_states(h: ComputeHost) -> None:
    for inst in await h.conductor.call("instances_on_host", ADMIN_CTX, host=h.host):
        if inst["task_state"] is None:
            await sync_one(h, inst["uuid"], await h.power_state(inst["uuid"]), inst)


async def sync_one(
    h: ComputeHost, uuid: str, power: int, inst: dict[str, Any] | None = None
) -> None:
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


async def recover_cloud(db: Database) -> None:
    """Service start: nothing is in flight yet, so a build that never got a host never will."""
    inst = instances.Instance
    async with db.session() as session:
        stuck = await session.execute(
            select(inst).where(
                inst.deleted.is_(False), inst.host.is_(None), inst.vm_state == states.BUILDING
            )
        )
        for row in stuck.scalars():
            row.vm_state, row.task_state = states.ERROR, None
            row.fault = records.fault(
                f"Build of instance {row.uuid} was interrupted before it reached a host: "
                "the compute service restarted.",
                500,
            )
        live = select(inst.uuid).where(inst.deleted.is_(False))
        moving = select(instances.Migration.uuid).where(
            instances.Migration.status.in_(("pre-migrating", "migrating", "finished"))
        )
        alloc = hosts.Allocation
        await session.execute(
            delete(alloc).where(
                alloc.consumer_uuid.not_in(live), alloc.consumer_uuid.not_in(moving)
            )
        )
        for (node,) in (await session.execute(select(hosts.ComputeNode.hypervisor_hostname))).all():
            await claims.heal(session, node)


async def expire_builds(db: Database, timeout: float) -> None:
    """Periodic: a build still in BUILD after `timeout` seconds goes to ERROR."""
    inst = instances.Instance
    limit = utcnow() - dt.timedelta(seconds=timeout)
    async with db.session() as session:
        rows = await session.execute(
            select(inst).where(
                inst.deleted.is_(False), inst.vm_state == states.BUILDING, inst.created_at < limit
            )
        )
        for row in rows.scalars():
            row.vm_state, row.task_state = states.ERROR, None
            row.fault = records.fault(f"Build of instance {row.uuid} timed out.", 500)
            await claims.release(session, row.uuid)
