"""select_destinations: filter, weigh and claim one host per instance of a request.

`SchedulerEndpoint` serves it on the bus (topic `compute-scheduler`); the conductor calls it.
All instances of a request are placed or none is: claims made for a request that cannot be
placed whole are released before NoValidHost is raised.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from overcast.common import errors, log
from overcast.common.config import Settings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.compute import records
from overcast.compute.scheduler import RequestSpec, claims, filters, host_state, weighers
from overcast.compute.scheduler.filters.resources import requested

LOG = log.get(__name__)

TOPIC = "compute-scheduler"


class NoValidHost(errors.Conflict):
    title = "No valid host"


def _needs_instances(spec: RequestSpec) -> bool:
    hints = spec.get("scheduler_hints") or {}
    return bool(hints.get("same_host") or hints.get("different_host") or spec.get("instance_group"))


def _candidates(hosts: list[host_state.HostState], spec: RequestSpec) -> list[host_state.HostState]:
    """Hosts allowed before any filter runs: forced, ignored and already-tried ones."""
    ignore = set(spec.get("ignore_hosts") or []) | set((spec.get("retry") or {}).get("hosts") or [])
    out = [h for h in hosts if h.host not in ignore]
    forced_hosts = set(spec.get("force_hosts") or [])
    forced_nodes = set(spec.get("force_nodes") or [])
    if forced_hosts:
        out = [h for h in out if h.host in forced_hosts]
    if forced_nodes:
        out = [h for h in out if h.node in forced_nodes]
    wanted = spec.get("requested_destination") or {}
    if wanted.get("host"):
        out = [h for h in out if h.host == wanted["host"]]
    if wanted.get("node"):
        out = [h for h in out if h.node == wanted["node"]]
    return out


class Scheduler:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.filters = filters.enabled(list(settings.compute.enabled_filters))
        self._loading: asyncio.Future[list[host_state.HostState]] | None = None

    async def _fetch(self, with_instances: bool) -> list[host_state.HostState]:
        compute = self.settings.compute
        async with self.db.reader() as session:
            return await host_state.load(
                session,
                service_down_time=compute.service_down_time,
                default_zone=compute.default_availability_zone,
                with_instances=with_instances,
            )

    async def _hosts(self, with_instances: bool) -> list[host_state.HostState]:
        """Fresh host states. Requests that arrive while a load is under way share it (the
        claims stay atomic in the database, so a state a few ms old is harmless)."""
        if with_instances:
            return await self._fetch(True)
        loading = self._loading
        if loading is None:
            loading = self._loading = asyncio.get_running_loop().create_future()
            try:
                loading.set_result(await self._fetch(False))
            except BaseException as exc:
                loading.set_exception(exc)
                loading.exception()  # retrieved: waiters re-raise it
                raise
            finally:
                self._loading = None
        return [h.clone() for h in await asyncio.shield(loading)]

    def filter_hosts(
        self, hosts: list[host_state.HostState], spec: RequestSpec, first: bool = True
    ) -> list[host_state.HostState]:
        forced = bool(spec.get("force_hosts") or spec.get("force_nodes"))
        for flt in self.filters:
            if forced and not isinstance(flt, filters.resources.ResourceFilter):
                continue  # an admin's forced host skips the filters, as in Nova, but not capacity
            if flt.run_filter_once_per_request and not first:
                continue
            hosts = [h for h in hosts if flt.host_passes(h, spec)]
            if not hosts:
                LOG.info("no host passed %s", type(flt).__name__)
                break
        return hosts

    async def select_destinations(
        self, spec: RequestSpec, ctx: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Claim a host for each of spec["instance_uuids"]; [{instance_uuid, host, node}].
        With `ctx`, each claim's transaction also records the scheduler's event."""
        started = time.perf_counter()
        uuids: list[str] = list(spec.get("instance_uuids") or [])
        compute = self.settings.compute
        hosts = _candidates(await self._hosts(_needs_instances(spec)), spec)
        need = requested(spec.get("flavor") or {}, bool(spec.get("is_bfv")))
        chosen: list[dict[str, Any]] = []
        try:
            for index, uuid in enumerate(uuids):
                passed = self.filter_hosts(hosts, spec, first=index == 0)
                ordered = weighers.weigh(passed, spec, compute)
                if compute.host_subset_size > 1 and len(ordered) > 1:
                    top = ordered[: compute.host_subset_size]
                    random.shuffle(top)
                    ordered[: len(top)] = top
                picked = await self._claim_first(ordered, uuid, need, spec, ctx)
                if picked is None:
                    raise NoValidHost(
                        "No valid host was found. There are not enough hosts available."
                    )
                picked.consume(need, uuid)
                group = spec.get("instance_group")
                if group is not None:
                    if picked.host not in (group.get("hosts") or []):
                        group["hosts"] = [*(group.get("hosts") or []), picked.host]
                    if uuid not in (group.get("members") or []):
                        group["members"] = [*(group.get("members") or []), uuid]
                chosen.append(
                    {
                        "instance_uuid": uuid,
                        "host": picked.host,
                        "node": picked.node,
                        "availability_zone": picked.availability_zone,
                    }
                )
        except BaseException:
            async with self.db.session() as session:
                for done in chosen:
                    await claims.release(session, done["instance_uuid"], done["node"])
            raise
        LOG.debug("scheduled %d in %.1f ms", len(uuids), (time.perf_counter() - started) * 1000)
        return chosen

    async def _claim_first(
        self,
        ordered: list[host_state.HostState],
        uuid: str,
        need: dict[str, int],
        spec: RequestSpec,
        ctx: dict[str, Any] | None = None,
    ) -> host_state.HostState | None:
        started = utcnow()
        for candidate in ordered:
            async with self.db.session() as session:
                won = await claims.claim(
                    session,
                    host=candidate.host,
                    node=candidate.node,
                    consumer_uuid=uuid,
                    instance_uuid=uuid,
                    resources=need,
                    project_id=spec.get("project_id"),
                    user_id=spec.get("user_id"),
                )
                if won and ctx is not None:
                    await records.event_finish(
                        session, ctx, uuid, "scheduler_select_destinations", start=started
                    )
            if won:
                return candidate
            LOG.info("lost the race for %s; trying the next host", candidate.node)
        return None


class SchedulerEndpoint:
    """The scheduler's bus methods. Each decision is recorded as a `scheduler_select_destinations`
    event of the instances' current action, so the hop shows in os-instance-actions."""

    def __init__(self, scheduler: Scheduler, db: Database) -> None:
        self.scheduler = scheduler
        self.db = db

    async def select_destinations(
        self, ctx: dict[str, Any], spec: RequestSpec
    ) -> list[dict[str, Any]]:
        started = utcnow()
        try:
            chosen = await self.scheduler.select_destinations(spec, ctx)
        except errors.OvercastError as exc:
            await self._record(ctx, spec, started, "Error", exc.message)
            raise
        return chosen

    async def _record(
        self, ctx: dict[str, Any], spec: RequestSpec, started: Any, result: str, message: str | None
    ) -> None:
        async with self.db.session() as session:
            for uuid in spec.get("instance_uuids") or []:
                await records.event_finish(
                    session,
                    ctx,
                    uuid,
                    "scheduler_select_destinations",
                    result=result,
                    traceback=message,
                    details=message,
                    start=started,
                )
