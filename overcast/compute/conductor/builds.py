"""The conductor's builds: ask the scheduler for hosts, cast each build to its host's agent,
and retry a failed build on another host until `compute.max_attempts`, then ERROR with a fault
saying why.

One of the pieces of the conductor's bus endpoint (`conductor.Conductor`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from overcast.common import errors, log, trace
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.compute import aggregates, records, states
from overcast.compute.conductor import rpc, writes
from overcast.compute.scheduler import claims
from overcast.compute.scheduler.manager import TOPIC as SCHEDULER

LOG = log.get(__name__)


def first_build_state(spec: dict[str, Any]) -> str:
    """The task state a build starts in on its host: its ports first, then its volumes, then
    the guest (an agent with no network service to ask moves on from networking at once)."""
    if spec.get("networks") != "none":
        return states.NETWORKING
    return states.BLOCK_DEVICE_MAPPING if spec.get("uses_volumes") else states.SPAWNING


class Builds:
    """Every method takes the caller's context dict first."""

    def __init__(self, settings: Settings, db: Database, bus: Bus) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        # A burst of boots takes turns here rather than in the queue for the pool's few
        # connections, where every one of them waited behind all the others (a bus call's
        # 60 s ran out on a busy machine, and boots went to ERROR).
        self._turns = asyncio.Semaphore(settings.compute.conductor_builds)

    async def schedule_and_build_instances(self, ctx: dict[str, Any], spec: dict[str, Any]) -> None:
        async with self._turns:
            with trace.span("conductor", instances=len(spec["instance_uuids"])):
                await self._schedule_and_build(ctx, spec)

    async def _schedule_and_build(self, ctx: dict[str, Any], spec: dict[str, Any]) -> None:
        uuids: list[str] = list(spec["instance_uuids"])
        # Not part of the request spec (the scheduler's rankings are keyed by it).
        records.known_actions(ctx, spec.pop(rpc.ACTIONS, None) or {})
        # Opened with this conductor's host: if it dies now, its recovery knows these builds
        # were taken off the bus (and lost), unlike those still queued for it.
        async with self.db.session() as session:
            for uuid in uuids:
                await records.event_start(
                    session, ctx, uuid, rpc.BUILD_EVENT, self.settings.host_name
                )
        try:
            selections = await self.bus.call(SCHEDULER, "select_destinations", ctx, spec=spec)
        except errors.OvercastError as exc:
            trace.note(error=exc.message)
            LOG.info("scheduling failed: %s", exc.message)
            # As Nova shows it: code 500, so that the owner sees the message (which says
            # which filter refused the hosts and why) and only admins the details.
            fault = records.fault(exc.message, 500, exc.message)
            async with self.db.session() as session:
                for uuid in uuids:
                    await writes.to_error(session, uuid, fault)
                    await records.event_finish(
                        session, ctx, uuid, rpc.BUILD_EVENT, result="Error", traceback=exc.message
                    )
            return
        for selection in selections:
            uuid = selection["instance_uuid"]
            one = {
                **spec,
                "instance_uuids": [uuid],
                "num_instances": 1,
                "retry": {"num_attempts": 1, "hosts": [selection["host"]]},
            }
            await self._send_build(ctx, uuid, one, selection)

    async def _send_build(
        self,
        ctx: dict[str, Any],
        uuid: str,
        spec: dict[str, Any],
        selection: dict[str, Any],
        started: dt.datetime | None = None,
        event: str = rpc.BUILD_EVENT,
    ) -> None:
        """Place the build on its selected host and cast it there; the event is the open one
        this conductor started, or a one-shot from `started`. The host's work begins in the
        same transaction (its first task state, its event opened) and the cast hands it the
        instance, so the agent does not come back for them (`start_build`, which older
        conductors' casts still need): one call and one transaction fewer per build."""
        host, node = selection["host"], selection["node"]
        async with self.db.session() as session:
            values = {
                "host": host,
                "node": node,
                "launched_on": host,
                "task_state": first_build_state(spec),
            }
            if not spec.get("availability_zone"):  # Nova shows the zone of the host it got
                values["availability_zone"] = selection.get(
                    "shown_zone"
                ) or await aggregates.host_availability_zone(
                    session, host, self.settings.compute.default_availability_zone
                )
            instance = await writes.update_and_get(session, uuid, values)
            if instance is None:  # deleted while it was being scheduled
                await claims.release(session, uuid)
                return
            await records.event_finish(
                session, ctx, uuid, event, start=started, then=(rpc.AGENT_BUILD_EVENT, host)
            )
        try:
            await self.bus.cast(
                rpc.agent(host),
                "build_and_run_instance",
                ctx,
                instance_uuid=uuid,
                spec=spec,
                node=node,
                instance=instance,
            )
        except errors.OvercastError as exc:
            async with self.db.session() as session:  # the host never heard of it
                await records.event_finish(
                    session, ctx, uuid, rpc.AGENT_BUILD_EVENT, result="Error", details=exc.message
                )
            await self.build_failed(ctx, uuid, spec, host, node, exc.message)

    async def build_failed(
        self,
        ctx: dict[str, Any],
        uuid: str,
        spec: dict[str, Any],
        host: str,
        node: str,
        reason: str,
    ) -> None:
        """A host could not build the instance: release its claim and try another host."""
        started = utcnow()
        max_attempts = self.settings.compute.max_attempts
        retry = dict(spec.get("retry") or {"num_attempts": 1, "hosts": [host]})
        async with self.db.session() as session:
            await claims.release(session, uuid, node)
            if retry["num_attempts"] >= max_attempts:
                message = (
                    f"Build of instance {uuid} aborted: Exceeded maximum number of retries. "
                    f"Exceeded max scheduling attempts {max_attempts} for instance {uuid}. "
                    f"Last exception: {reason}"
                )
                await writes.to_error(session, uuid, records.fault(message, 500, reason))
                return
            still = await writes.update_instance(
                session, uuid, {"host": None, "node": None, "task_state": states.SCHEDULING}
            )
            if not still:
                return
        retry = {
            "num_attempts": retry["num_attempts"] + 1,
            "hosts": sorted({*retry.get("hosts", []), host}),
        }
        spec = {**spec, "retry": retry}
        try:
            picked = await self.bus.call(SCHEDULER, "select_destinations", ctx, spec=spec)
        except errors.OvercastError as exc:
            message = (
                f"Build of instance {uuid} aborted: {exc.message} Exhausted all hosts available "
                f"for retrying build failures for instance {uuid}. Last exception: {reason}"
            )
            async with self.db.session() as session:
                await writes.to_error(session, uuid, records.fault(message, 500, reason))
            return
        spec["retry"]["hosts"] = sorted({*retry["hosts"], picked[0]["host"]})
        await self._send_build(ctx, uuid, spec, picked[0], started, "conductor_reschedule")
