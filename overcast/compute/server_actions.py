"""Server actions (POST /servers/{id}/action): the state checks Nova makes, the task state each
action sets, the instance action it records and the agent or conductor call it starts.

Every action is: in one transaction, check the lock and the (vm_state, task_state) the action
needs, set its task_state with a guarded UPDATE (409 if another action won) and record the
instance action; then cast to the host's agent (or the conductor for moves).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors, trace
from overcast.common.context import RequestContext
from overcast.compute import conductor, flavors, quotas, records, servers, states
from overcast.compute.models.instances import Instance, Migration
from overcast.compute.state import ComputeState

ANY_VM = ("*",)


def conflict(action: str, inst: Instance, attr: str = "vm_state") -> errors.Conflict:
    value = getattr(inst, attr)
    return errors.Conflict(f"Cannot '{action}' instance {inst.uuid} while it is in {attr} {value}")


async def begin(
    st: ComputeState,
    ctx: RequestContext,
    uuid: str,
    action: str,
    record: str,
    vm_states: Sequence[str],
    task_states: Sequence[str | None] = (None,),
    new_task: str | None = None,
    values: dict[str, Any] | None = None,
    lock_ok: bool = False,
) -> Instance:
    """Check and start an action in a transaction of its own; the instance as it was before."""
    async with st.db.session() as session:
        inst = await servers.get(session, ctx, uuid)
        await start(
            session, ctx, inst, action, record, vm_states, task_states, new_task, values, lock_ok
        )
    return inst


async def start(
    session: AsyncSession,
    ctx: RequestContext,
    inst: Instance,
    action: str,
    record: str,
    vm_states: Sequence[str],
    task_states: Sequence[str | None] = (None,),
    new_task: str | None = None,
    values: dict[str, Any] | None = None,
    lock_ok: bool = False,
) -> None:
    """In the caller's transaction: check the lock and states of `inst` (read in it), set the
    action's task_state with a guarded UPDATE (409 if another action won) and record it."""
    if not lock_ok:
        servers.check_not_locked(inst, ctx)
    if vm_states != ANY_VM and inst.vm_state not in vm_states:
        raise conflict(action, inst)
    if inst.task_state not in task_states:
        raise conflict(action, inst, "task_state")
    changes = dict(values or {})
    if new_task is not None:
        changes["task_state"] = new_task
    if changes and not await conductor.update_instance(
        session, inst.uuid, changes, list(task_states)
    ):
        raise conflict(action, inst, "task_state")
    await records.start_action(session, ctx.to_dict(), inst.uuid, record)


async def to_agent(
    st: ComputeState, ctx: RequestContext, inst: Instance, method: str, **kwargs: Any
) -> None:
    if not inst.host:
        raise errors.Conflict(f"Instance {inst.uuid} has no compute host.")
    await st.bus.cast(
        conductor.agent(inst.host), method, ctx.to_dict(), instance_uuid=inst.uuid, **kwargs
    )


_POWER = {  # action: (record, vm_states, new task, agent method)
    "os-stop": ("stop", (states.ACTIVE, states.ERROR), states.POWERING_OFF, "stop_instance"),
    "os-start": ("start", (states.STOPPED,), states.POWERING_ON, "start_instance"),
    "pause": ("pause", (states.ACTIVE,), states.PAUSING, "pause_instance"),
    "unpause": ("unpause", (states.PAUSED,), states.UNPAUSING, "unpause_instance"),
    "suspend": ("suspend", (states.ACTIVE,), states.SUSPENDING, "suspend_instance"),
    "resume": ("resume", (states.SUSPENDED,), states.RESUMING, "resume_instance"),
    "unrescue": ("unrescue", (states.RESCUED,), states.UNRESCUING, "unrescue_instance"),
}


async def power(st: ComputeState, ctx: RequestContext, uuid: str, action: str) -> None:
    record, vm_states, task, method = _POWER[action]
    inst = await begin(st, ctx, uuid, action, record, vm_states, new_task=task)
    await to_agent(st, ctx, inst, method)


async def reboot(st: ComputeState, ctx: RequestContext, uuid: str, kind: str) -> None:
    kind = kind.upper()
    if kind not in ("SOFT", "HARD"):
        raise errors.BadRequest(f"Argument 'type' for reboot must be 'HARD' or 'SOFT', not {kind}")
    if kind == "SOFT":
        inst = await begin(
            st, ctx, uuid, "reboot", "reboot", (states.ACTIVE,), new_task=states.REBOOTING
        )
    else:
        inst = await begin(
            st,
            ctx,
            uuid,
            "reboot",
            "reboot",
            (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED, states.ERROR),
            (
                None,
                states.REBOOTING,
                states.REBOOT_PENDING,
                states.REBOOT_STARTED,
                states.REBOOTING_HARD,
                states.REBOOT_PENDING_HARD,
                states.REBOOT_STARTED_HARD,
            ),
            new_task=states.REBOOTING_HARD,
        )
    await to_agent(st, ctx, inst, "reboot_instance", reboot_type=kind)


async def trigger_crash_dump(st: ComputeState, ctx: RequestContext, uuid: str) -> None:
    inst = await begin(st, ctx, uuid, "trigger_crash_dump", "trigger_crash_dump", (states.ACTIVE,))
    await to_agent(st, ctx, inst, "trigger_crash_dump")


async def rescue(st: ComputeState, ctx: RequestContext, uuid: str, image_ref: str | None) -> None:
    inst = await begin(
        st,
        ctx,
        uuid,
        "rescue",
        "rescue",
        (states.ACTIVE, states.STOPPED, states.ERROR),
        new_task=states.RESCUING,
    )
    await to_agent(st, ctx, inst, "rescue_instance", rescue_image_ref=image_ref)


async def lock(st: ComputeState, ctx: RequestContext, uuid: str, reason: str | None) -> None:
    async with st.db.session() as session:
        inst = await servers.get(session, ctx, uuid)
        inst.locked, inst.locked_reason = True, reason
        inst.locked_by = "admin" if ctx.is_admin and ctx.project_id != inst.project_id else "owner"
        await records.start_action(session, ctx.to_dict(), uuid, "lock")


async def unlock(st: ComputeState, ctx: RequestContext, uuid: str, override: bool) -> None:
    async with st.db.session() as session:
        inst = await servers.get(session, ctx, uuid)
        if inst.locked and inst.locked_by == "admin" and not override:
            raise errors.Forbidden("Unlocking a server locked by an admin needs the admin role.")
        inst.locked, inst.locked_reason, inst.locked_by = False, None, None
        await records.start_action(session, ctx.to_dict(), uuid, "unlock")


async def reset_state(st: ComputeState, ctx: RequestContext, uuid: str, state: str) -> None:
    if state not in ("active", "error"):
        raise errors.BadRequest("Invalid input for field/attribute state.")
    async with st.db.session() as session:
        inst = await servers.get(session, ctx, uuid)
        inst.vm_state, inst.task_state = state, None
        await records.start_action(session, ctx.to_dict(), uuid, "resetState")


async def resize(
    st: ComputeState,
    ctx: RequestContext,
    uuid: str,
    flavor_ref: str,
    sysmeta: dict[str, Any] | None = None,
) -> None:
    """Start a resize; `sysmeta` (the disk config asked with it) is recorded with its start."""
    async with st.db.reader() as session:
        with trace.span("request validated", flavor=flavor_ref):
            new = (await flavors.get_for_boot(session, ctx, flavor_ref)).snapshot()
            project_id = (await servers.get(session, ctx, uuid)).project_id
    async with st.db.session() as session:
        await start_resize(session, ctx, uuid, project_id, new, sysmeta or {})
    await st.bus.cast(conductor.TOPIC, "migrate_server", ctx.to_dict(), uuid=uuid, new_flavor=new)


async def start_resize(
    session: AsyncSession,
    ctx: RequestContext,
    uuid: str,
    project_id: str,
    new: dict[str, Any],
    sysmeta: dict[str, Any] | None = None,
) -> None:
    """In one transaction: take the project's quota lock, check the flavor change against the
    quota, start the action and record `new_flavor`, which the quota counts from then on; a
    concurrent resize or boot of the project waits for the commit and counts this one."""
    await quotas.lock_project(session, project_id)
    inst = await servers.get(session, ctx, uuid)
    await start(  # a refusal below rolls this back with the rest
        session,
        ctx,
        inst,
        "resize",
        "resize",
        (states.ACTIVE, states.STOPPED),
        new_task=states.RESIZE_PREP,
        values={
            "system_metadata": {
                **inst.system_metadata,
                **(sysmeta or {}),
                "old_vm_state": inst.vm_state,
            }
        },
    )
    old = inst.flavor
    if new["id"] == old.get("id"):
        raise errors.BadRequest("When resizing, instances must change flavor!")
    if inst.image_ref and new["root_gb"] < old.get("root_gb", 0):
        raise errors.BadRequest("Resize error: Unable to resize disk down.")
    deltas = {
        "cores": new["vcpus"] - int(old.get("vcpus", 0)),
        "ram": new["memory_mb"] - int(old.get("memory_mb", 0)),
    }
    with trace.span("quota reserved", **deltas):
        await quotas.reserve(session, inst.project_id, inst.user_id, deltas)
    inst.new_flavor = new


async def migrate(st: ComputeState, ctx: RequestContext, uuid: str, host: str | None) -> None:
    async with st.db.reader() as session:
        inst = await servers.get(session, ctx, uuid)
    await begin(
        st,
        ctx,
        uuid,
        "migrate",
        "migrate",
        (states.ACTIVE, states.STOPPED),
        new_task=states.RESIZE_PREP,
        values={"system_metadata": {**inst.system_metadata, "old_vm_state": inst.vm_state}},
    )
    await st.bus.cast(
        conductor.TOPIC, "migrate_server", ctx.to_dict(), uuid=uuid, new_flavor=None, host=host
    )


async def _migration(st: ComputeState, uuid: str) -> dict[str, Any]:

    async with st.db.reader() as session:
        mig = (
            await session.execute(
                select(Migration)
                .where(Migration.instance_uuid == uuid, Migration.status == "finished")
                .order_by(Migration.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    if mig is None:
        raise errors.BadRequest(f"Instance {uuid} has no finished migration to confirm or revert.")
    return conductor.migration_dict(mig)


async def confirm_resize(st: ComputeState, ctx: RequestContext, uuid: str) -> None:
    migration = await _migration(st, uuid)
    await begin(st, ctx, uuid, "confirmResize", "confirmResize", (states.RESIZED,))
    await st.bus.cast(
        conductor.agent(migration["source_compute"]),
        "confirm_resize",
        ctx.to_dict(),
        instance_uuid=uuid,
        migration=migration,
    )


async def revert_resize(st: ComputeState, ctx: RequestContext, uuid: str) -> None:
    migration = await _migration(st, uuid)
    await begin(
        st,
        ctx,
        uuid,
        "revertResize",
        "revertResize",
        (states.RESIZED,),
        new_task=states.RESIZE_REVERTING,
    )
    await st.bus.cast(
        conductor.agent(migration["dest_compute"]),
        "revert_resize",
        ctx.to_dict(),
        instance_uuid=uuid,
        migration=migration,
    )


async def live_migrate(st: ComputeState, ctx: RequestContext, uuid: str, host: str | None) -> None:
    await begin(
        st,
        ctx,
        uuid,
        "os-migrateLive",
        "live-migration",
        (states.ACTIVE, states.PAUSED),
        new_task=states.MIGRATING,
    )
    await st.bus.cast(conductor.TOPIC, "live_migrate", ctx.to_dict(), uuid=uuid, host=host)


async def evacuate(
    st: ComputeState,
    ctx: RequestContext,
    uuid: str,
    host: str | None,
    stopped: bool,
    admin_password: str | None,
) -> None:
    with trace.span("request validated", host=host):
        async with st.db.reader() as session:
            inst = await servers.get(session, ctx, uuid)
            status = await servers.host_status(
                session, st.settings.compute.service_down_time, [inst.host]
            )
        if inst.host and status.get(inst.host) != "DOWN":
            raise errors.BadRequest(f"Compute service of {inst.host} is still in use.")
        if host is not None and host == inst.host:
            raise errors.BadRequest("The target host can't be the same one.")
    preserve = states.STOPPED if stopped or inst.vm_state == states.STOPPED else states.ACTIVE
    await begin(
        st,
        ctx,
        uuid,
        "evacuate",
        "evacuate",
        (states.ACTIVE, states.STOPPED, states.ERROR),
        new_task=states.REBUILDING,
    )
    await st.bus.cast(
        conductor.TOPIC,
        "evacuate",
        ctx.to_dict(),
        uuid=uuid,
        host=host,
        preserve_state=preserve,
        admin_password=admin_password,
    )


async def ask_agent(
    st: ComputeState, ctx: RequestContext, uuid: str, method: str, **kwargs: Any
) -> Any:
    """Ask the instance's host agent something about its guest (a read, no task state)."""
    async with st.db.reader() as session:
        inst = await servers.get(session, ctx, uuid)
    if not inst.host or inst.vm_state in (states.BUILDING, states.SHELVED_OFFLOADED):
        raise errors.Conflict(f"Instance {uuid} is not ready: it is in vm_state {inst.vm_state}.")
    try:
        return await st.bus.call(
            conductor.agent(inst.host), method, ctx.to_dict(), timeout=30,
            instance_uuid=uuid, **kwargs,
        )  # fmt: skip
    except errors.NotFound as exc:
        raise errors.Conflict(f"Instance {uuid} has no guest on its host.") from exc


async def console_output(
    st: ComputeState, ctx: RequestContext, uuid: str, length: int | None
) -> str:
    text: str = await ask_agent(st, ctx, uuid, "get_console_output", length=length)
    return text


async def diagnostics(st: ComputeState, ctx: RequestContext, uuid: str) -> dict[str, Any]:
    diag: dict[str, Any] = await ask_agent(st, ctx, uuid, "get_diagnostics")
    return diag
