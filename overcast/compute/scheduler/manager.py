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

from overcast.common import errors, log, trace
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.compute import records
from overcast.compute.scheduler import (
    RequestSpec,
    claims,
    filters,
    host_state,
    ranking,
    weighers,
)
from overcast.compute.scheduler.filters.resources import requested

LOG = log.get(__name__)

TOPIC = "compute-scheduler"


async def hosts_changed(bus: Bus) -> None:
    """Tell every scheduler that services or aggregates changed (returns once they know). The
    change is made already: with the bus away, schedulers see it when their cache expires."""
    try:
        await bus.fanout(TOPIC, "hosts_changed", {})
    except errors.OvercastError as exc:
        LOG.warning(
            "schedulers not told of a host change (%s); they see it when their host states "
            "expire (compute.host_state_ttl)",
            exc,
        )


class NoValidHost(errors.Conflict):
    title = "No valid host"


def _needs_instances(spec: RequestSpec) -> bool:
    hints = spec.get("scheduler_hints") or {}
    return bool(hints.get("same_host") or hints.get("different_host") or spec.get("instance_group"))


def _candidates(hosts: list[host_state.HostState], spec: RequestSpec) -> list[host_state.HostState]:
    """Hosts allowed before any filter runs: forced, ignored and already-tried ones (`hosts`
    itself when the request names none: the scheduler's rankings are kept per list)."""
    ignore = set(spec.get("ignore_hosts") or []) | set((spec.get("retry") or {}).get("hosts") or [])
    forced_hosts = set(spec.get("force_hosts") or [])
    forced_nodes = set(spec.get("force_nodes") or [])
    wanted = spec.get("requested_destination") or {}
    if not (ignore or forced_hosts or forced_nodes or wanted.get("host") or wanted.get("node")):
        return hosts
    out = [h for h in hosts if h.host not in ignore]
    if forced_hosts:
        out = [h for h in out if h.host in forced_hosts]
    if forced_nodes:
        out = [h for h in out if h.node in forced_nodes]
    if wanted.get("host"):
        out = [h for h in out if h.host == wanted["host"]]
    if wanted.get("node"):
        out = [h for h in out if h.node == wanted["node"]]
    return out


def _why(hosts: list[host_state.HostState], report: list[dict[str, Any]]) -> str:
    """NoValidHost's message, saying which filter refused every host and why, in words the
    server's owner can act on (no host names)."""
    base = "No valid host was found."
    if not hosts:
        return f"{base} There are no compute hosts available to this request."
    refusing = next((f for f in report if f["kept"] == 0), None)
    if refusing is None:
        return f"{base} There are not enough hosts available."
    count = refusing["of"]
    hosts_word = "host" if count == 1 else f"all {count} hosts"
    return f"{base} {refusing['name']} refused {hosts_word}: {refusing.get('reason', '')}"


class Scheduler:
    """Host states are loaded from the database and reused for `host_state_ttl` seconds by the
    requests that follow, each claim counted into them (`HostState.consume`); the claims stay
    atomic in the database, so a state another scheduler's claim made stale costs a lost race,
    and a request no cached state can place is placed again on fresh ones before NoValidHost.
    Changes an admin makes (services, aggregates) reach every scheduler at once through
    `hosts_changed`."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.filters = filters.enabled(list(settings.compute.enabled_filters))
        self._loading: asyncio.Future[list[host_state.HostState]] | None = None
        self._cached: tuple[float, list[host_state.HostState]] | None = None
        self._generation = 0  # bumped by `forget`: a load begun before it is not kept
        self._ranked_for: list[host_state.HostState] | None = None  # what `_rankings` rank
        self._rankings: dict[str, ranking.Ranking] = {}

    def forget(self) -> None:
        """Drop the cached host states: the next request loads them again."""
        self._generation += 1
        self._cached = None
        self._loading = None

    async def _fetch(self, with_instances: bool) -> list[host_state.HostState]:
        compute = self.settings.compute
        async with self.db.reader() as session:
            return await host_state.load(
                session,
                service_down_time=compute.service_down_time,
                default_zone=compute.default_availability_zone,
                with_instances=with_instances,
            )

    async def _hosts(self, with_instances: bool) -> tuple[list[host_state.HostState], bool]:
        """Host states and whether they were loaded for this request. Requests share the cached
        states and a load under way; those needing each host's instances load their own."""
        if with_instances:
            return await self._fetch(True), True
        cached = self._cached
        if (
            cached is not None
            and time.monotonic() - cached[0] < self.settings.compute.host_state_ttl
        ):
            return cached[1], False
        loading = self._loading
        if loading is None:
            loading = self._loading = asyncio.get_running_loop().create_future()
            generation, began = self._generation, time.monotonic()
            try:
                states = await self._fetch(False)
                loading.set_result(states)
                if generation == self._generation:
                    self._cached = (began, states)
            except BaseException as exc:
                loading.set_exception(exc)
                loading.exception()  # retrieved: waiters re-raise it
                raise
            finally:
                if self._loading is loading:
                    self._loading = None
        return await asyncio.shield(loading), True

    def filter_hosts(
        self,
        hosts: list[host_state.HostState],
        spec: RequestSpec,
        first: bool = True,
        report: list[dict[str, Any]] | None = None,
    ) -> list[host_state.HostState]:
        """The hosts that pass every filter; `report` gets each filter's name and how many
        hosts it kept, and for the filter that kept none, why it refused them."""
        forced = bool(spec.get("force_hosts") or spec.get("force_nodes"))
        for flt in self.filters:
            if forced and not isinstance(flt, filters.resources.ResourceFilter):
                continue  # an admin's forced host skips the filters, as in Nova, but not capacity
            if flt.run_filter_once_per_request and not first:
                continue
            before = hosts
            hosts = [h for h in hosts if flt.host_passes(h, spec)]
            name = type(flt).__name__
            if report is not None:
                report.append({"name": name, "kept": len(hosts), "of": len(before)})
            if not hosts:
                LOG.info("no host passed %s", name)
                if report is not None and before:
                    report[-1]["reason"] = flt.explain(before, spec)
                    report[-1]["rejected_hosts"] = [h.host for h in before]
                break
        return hosts

    async def select_destinations(
        self, spec: RequestSpec, ctx: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Claim a host for each of spec["instance_uuids"]; [{instance_uuid, host, node}].
        With `ctx`, each claim's transaction also records the scheduler's event."""
        started = time.perf_counter()
        uuids: list[str] = list(spec.get("instance_uuids") or [])
        with_instances = _needs_instances(spec)
        loaded, fresh = await self._hosts(with_instances)
        hosts = _candidates(loaded, spec)
        need = requested(spec.get("flavor") or {}, bool(spec.get("is_bfv")))
        chosen: list[dict[str, Any]] = []
        try:
            for index, uuid in enumerate(uuids):
                picked, report = await self._place(hosts, spec, index == 0, uuid, need, ctx)
                if picked is None and not fresh:  # the cache may be what refused: look again
                    self.forget()
                    loaded, fresh = await self._hosts(with_instances)
                    hosts = _candidates(loaded, spec)
                    picked, report = await self._place(hosts, spec, index == 0, uuid, need, ctx)
                if picked is None:
                    raise NoValidHost(_why(hosts, report))
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
                        "shown_zone": picked.shown_zone,
                    }
                )
        except BaseException:
            self.forget()  # the cached states count the claims released here
            async with self.db.session() as session:
                for done in chosen:
                    await claims.release(session, done["instance_uuid"], done["node"])
            raise
        LOG.debug("scheduled %d in %.1f ms", len(uuids), (time.perf_counter() - started) * 1000)
        return chosen

    async def _place(
        self,
        hosts: list[host_state.HostState],
        spec: RequestSpec,
        first: bool,
        uuid: str,
        need: dict[str, int],
        ctx: dict[str, Any] | None,
    ) -> tuple[host_state.HostState | None, list[dict[str, Any]]]:
        """Filter and weigh `hosts` for one instance and claim the best that still has room,
        counting the claim into its state; the host (None if none) and the filters' report."""
        ranked = self._ranking(hosts, spec)
        if ranked is not None:
            picked, weight = await self._claim_ranked(ranked, uuid, need, spec, ctx)
            if picked is not None:
                trace.note(
                    filters=ranked.report,
                    weights=[{"host": picked.host, "weight": round(weight, 4)}],
                )
                return picked, ranked.report
        compute = self.settings.compute
        report: list[dict[str, Any]] = []
        passed = self.filter_hosts(hosts, spec, first, report)
        weighed = weighers.weighed(passed, spec, compute)
        ordered = [h for h, _w in weighed]
        trace.note(
            filters=report,
            weights=[{"host": h.host, "weight": round(w, 4)} for h, w in weighed[:5]],
        )
        if compute.host_subset_size > 1 and len(ordered) > 1:
            top = ordered[: compute.host_subset_size]
            random.shuffle(top)
            ordered[: len(top)] = top
        with trace.span("resources claimed", **need):
            picked = await self._claim_first(ordered, uuid, need, spec, ctx)
            trace.note(host=picked and picked.host)
        if picked is not None:
            picked.consume(need, uuid)
        return picked, report

    def _ranking(
        self, hosts: list[host_state.HostState], spec: RequestSpec
    ) -> ranking.Ranking | None:
        """The ranking of `hosts` for requests like `spec`, made now if it is the first of
        its kind since they were loaded; None for a request that takes the full path."""
        key = ranking.kind(spec)
        if key is None:
            return None
        if self._ranked_for is not hosts:
            self._ranked_for, self._rankings = hosts, {}
        found = self._rankings.get(key)
        if found is None:
            report: list[dict[str, Any]] = []
            passed = self.filter_hosts(hosts, spec, True, report)
            found = self._rankings[key] = ranking.Ranking(
                passed, spec, self.settings.compute, report
            )
        return found

    async def _claim_ranked(
        self,
        ranked: ranking.Ranking,
        uuid: str,
        need: dict[str, int],
        spec: RequestSpec,
        ctx: dict[str, Any] | None,
    ) -> tuple[host_state.HostState | None, float]:
        """Claim the ranking's best hosts in turn (a random one of the best
        `host_subset_size`) until a claim holds; the host (None when none has room) and its
        weight."""
        with trace.span("resources claimed", **need):
            while True:
                best: list[host_state.HostState] = []
                while len(best) < self.settings.compute.host_subset_size:
                    host = ranked.take()
                    if host is None:
                        break
                    best.append(host)
                if not best:
                    trace.note(host=None)
                    return None, 0.0
                picked = random.choice(best)
                for other in best:
                    if other is not picked:
                        ranked.put_back(other)
                weight = ranked.weight(picked)
                if await self._claim_first([picked], uuid, need, spec, ctx) is not None:
                    picked.consume(need, uuid)
                    ranked.put_back(picked)
                    trace.note(host=picked.host)
                    return picked, weight
                # Lost to another scheduler: that host is out until the states are loaded again.

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
        with trace.span("scheduled", instances=len(spec.get("instance_uuids") or [])):
            try:
                chosen = await self.scheduler.select_destinations(spec, ctx)
            except errors.OvercastError as exc:
                await self._record(ctx, spec, started, "Error", exc.message)
                raise
            trace.note(chosen=[c["host"] for c in chosen])
        return chosen

    async def hosts_changed(self, ctx: dict[str, Any]) -> None:
        """Fanout: an admin changed services or aggregates; cached host states are stale."""
        self.scheduler.forget()

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
