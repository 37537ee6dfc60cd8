"""Reconciling this host's guests with the database (the agent's side of it).

- `recover_host` (agent start): a move whose step ran here is aborted (the instance stays at
  its source), a build interrupted by a crash goes to ERROR, a delete that was under way
  finishes, a power action or suspend is done again to its end and a rescue is undone (the
  driver's calls are idempotent), a snapshot's unfinished image is deleted, other tasks are
  cleared, guests nothing holds are destroyed (`drop_strays`), and volume attaches and
  detaches cut short are undone (`volumes.settle`); a live migration from here that it cut
  short ends in the driver, the guest running on here (`abandon_migration`), unless its
  record says it switched over (`post-migrating`): then it goes on to its end, the instance
  on its destination (`moves.finish_switched_over`).
- `sync_power_states` (periodic) and `sync_one` (driver events): power state from the driver;
  an ACTIVE instance whose guest stopped becomes SHUTOFF, as Nova's sync does. The periodic
  pass, like the start, destroys the guests nothing holds any more (`drop_strays`): a move's
  destination cleans up after a move that ended without it, with no restart of its own.

Called by `agent.manager.ComputeHost`; the cloud-wide half is `conductor.recovery`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from overcast.common import errors, log
from overcast.compute import drivers, records, states
from overcast.compute import volumes as compute_volumes
from overcast.compute.agent import moves, volumes
from overcast.compute.agent.build import Builds
from overcast.compute.agent.host import ADMIN_CTX, Host, spec_for

LOG = log.get(__name__)

_STOPPED_POWER = (states.SHUTDOWN, states.NOSTATE, states.CRASHED)


async def recover_host(h: Host, builds: Builds) -> None:
    """Agent start: settle every instance the database puts on this host, after the moves whose
    step was running here went back to their source."""
    mine = await h.conductor.call("recover_host", ADMIN_CTX, host=h.host)
    await drop_strays(h, {i["uuid"] for i in mine})
    at_rest = [
        i for i in mine if i["vm_state"] != states.BUILDING and i["task_state"] != states.DELETING
    ]
    if at_rest and h.remote.has("volumev3"):
        h.volumes_settled.clear()
        _later(_settle_volumes(h, [i["uuid"] for i in at_rest]))
    for inst in mine:
        uuid, task = inst["uuid"], inst["task_state"]
        if inst.get("switched_over"):
            finish = functools.partial(_finish_live_migration, h, inst)
            _later(_once_answered(finish, f"finish the live migration of {uuid}"))
        elif inst["vm_state"] == states.BUILDING:
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
        elif task in _SNAPSHOTTING:
            _later(_drop_unfinished_images(h, uuid))
            await h.update(ADMIN_CTX, uuid, {"task_state": None})
            inst["task_state"] = None
            await sync_one(h, uuid, await h.power_state(uuid), inst)
        elif task in _finishers(h.driver):
            await _finish(h, inst)
        elif task is not None:
            await h.update(ADMIN_CTX, uuid, {"task_state": None})
            inst["task_state"] = None
            await _settle(h, inst)
        else:
            await _settle(h, inst)


async def _finish_live_migration(h: Host, inst: dict[str, Any]) -> None:
    """A live migration from here that a restart cut short after its switch-over goes on to
    its end (`moves.finish_switched_over`), its volumes' attachments on the destination
    found anew (those the volume service holds that the record does not list)."""
    uuid, migration = inst["uuid"], inst["switched_over"]
    LOG.info("finishing the live migration of %s to %s, cut short by a restart after its "
             "switch-over", uuid, migration["dest_compute"])  # fmt: skip
    ctx = await h.remote.as_service({**ADMIN_CTX, "project_id": inst.get("project_id")})
    old = list(inst.get("attachments") or [])
    there = {a["volume_id"]: a for a in await compute_volumes.left_behind(h.remote, ctx, inst)}
    new = [there.get(a["volume_id"], a) for a in old]
    await moves.finish_switched_over(h, ctx, uuid, migration, old, new, {})


async def _settle(h: Host, inst: dict[str, Any]) -> None:
    """An instance at rest: what a move from here cut short left is undone, then its states
    follow its guest."""
    uuid, vm_state = inst["uuid"], inst["vm_state"]
    if vm_state in (states.ACTIVE, states.STOPPED):
        try:
            await h.driver.abandon_migration(spec_for(inst), power_on=vm_state == states.ACTIVE)
        except errors.OvercastError as exc:
            LOG.warning("could not undo what a move left of %s: %s", uuid, exc)
    await sync_one(h, uuid, await h.power_state(uuid), inst)


_SNAPSHOTTING = (
    states.IMAGE_SNAPSHOT,
    states.IMAGE_SNAPSHOT_PENDING,
    states.IMAGE_PENDING_UPLOAD,
    states.IMAGE_UPLOADING,
    states.SHELVING,
    states.SHELVING_IMAGE_PENDING_UPLOAD,
    states.SHELVING_IMAGE_UPLOADING,
)


def _finishers(d: drivers.Driver) -> dict[str, tuple[Callable[[str], Awaitable[None]], str]]:
    """What ends an action a restart cut short, by its task state: the driver call (run
    again from the start) and the vm_state it leaves, as nova-compute's `_init_instance`
    retries them. A reboot is finished hard; a rescue is undone (its image is not at hand)."""

    async def hard_reboot(uuid: str) -> None:
        await d.reboot(uuid, True)

    reboot = (hard_reboot, states.ACTIVE)
    return {
        **dict.fromkeys((states.REBOOTING, states.REBOOT_PENDING, states.REBOOT_STARTED), reboot),
        **dict.fromkeys(
            (states.REBOOTING_HARD, states.REBOOT_PENDING_HARD, states.REBOOT_STARTED_HARD), reboot
        ),
        states.POWERING_OFF: (d.power_off, states.STOPPED),
        states.POWERING_ON: (d.power_on, states.ACTIVE),
        states.PAUSING: (d.pause, states.PAUSED),
        states.UNPAUSING: (d.unpause, states.ACTIVE),
        states.SUSPENDING: (d.suspend, states.SUSPENDED),
        states.RESUMING: (d.resume, states.ACTIVE),
        states.RESCUING: (d.unrescue, states.ACTIVE),
        states.UNRESCUING: (d.unrescue, states.ACTIVE),
    }


async def _finish(h: Host, inst: dict[str, Any]) -> None:
    uuid, task = inst["uuid"], inst["task_state"]
    call, vm_state = _finishers(h.driver)[task]
    LOG.info("finishing the %s of %s, cut short by a restart", task, uuid)
    try:
        await call(uuid)
    except errors.OvercastError as exc:  # the guest's own state then decides, as for others
        LOG.warning("could not finish the %s of %s: %s", task, uuid, exc)
        await h.update(ADMIN_CTX, uuid, {"task_state": None})
        await sync_one(h, uuid, await h.power_state(uuid), {**inst, "task_state": None})
        return
    values = {"task_state": None, "vm_state": vm_state, "power_state": await h.power_state(uuid)}
    await h.update(ADMIN_CTX, uuid, values, task)


_LATER: set[asyncio.Task[None]] = set()  # the loop holds its tasks only weakly


def _later(job: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(job)
    _LATER.add(task)
    task.add_done_callback(_LATER.discard)


async def _once_answered(job: Callable[[], Awaitable[None]], what: str, tries: int = 8) -> None:
    """Run `job` once the services it calls answer (in one process they listen only after the
    agents have started): retried with back-off on their errors, then given up with a log."""
    for attempt in range(tries):
        try:
            await job()
            return
        except errors.OvercastError as exc:
            if attempt == tries - 1:
                LOG.warning("could not %s: %s", what, exc)
                return
            await asyncio.sleep(min(2**attempt, 15))


async def _drop_unfinished_images(h: Host, uuid: str) -> None:
    """A snapshot cut short leaves its image queued or saving: it is deleted."""

    async def drop() -> None:
        client = await h.remote.image_as_service(ADMIN_CTX)
        for image in await client.find(instance_uuid=uuid):
            if image.get("status") in ("queued", "saving"):
                LOG.info("deleting the unfinished snapshot %s of %s", image["id"], uuid)
                await client.delete(image["id"])

    await _once_answered(drop, f"delete the unfinished snapshots of {uuid}")


async def _settle_volumes(h: Host, uuids: list[str]) -> None:
    """The volume attachments that attaches and detaches cut short by the restart left
    (`volumes.settle`); attaches and detaches wait till then."""

    async def settle() -> None:
        found = [await h.conductor.call("get_instance", ADMIN_CTX, uuid=u) for u in uuids]
        mine = [i for i in found if i and i.get("host") == h.host and not i.get("task_state")]
        await volumes.settle(h, mine)

    try:
        await _once_answered(settle, f"settle the volumes on {h.host}")
    finally:
        h.volumes_settled.set()


async def drop_strays(h: Host, owned: set[str]) -> None:
    """This host's guests that no instance here owns (`owned`: those known to be here) and no
    move to or from here still needs: those of a move here that ended without this host (its
    source restarted, say), of an evacuated instance, of a deleted one. Each is destroyed
    (QEMU, files), with what volume attachments a move made for it, by this host alone, as
    Nova's destinations clean up after failed migrations."""
    candidates = sorted(set(await h.driver.list_instances()) - owned)
    if not candidates:
        return
    for uuid in await h.conductor.call("strays", ADMIN_CTX, host=h.host, uuids=candidates):
        LOG.info("destroying guest %s, which no instance or move on %s holds", uuid, h.host)
        await volumes.release_moved(h, uuid)  # first: a pass that fails finds the guest again
        await h.driver.destroy(uuid)


async def sync_power_states(h: Host, found: list[dict[str, Any]] | None = None) -> None:
    """Sync the instances on this host (`found`: as the conductor gave them, else asked for);
    then drop the guests nothing holds any more (`drop_strays`)."""
    if found is None:
        found = await h.conductor.call("instances_on_host", ADMIN_CTX, host=h.host)
    for inst in found:
        if inst["task_state"] is None:
            await sync_one(h, inst["uuid"], await h.power_state(inst["uuid"]), inst)
    await drop_strays(h, {i["uuid"] for i in found})


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
