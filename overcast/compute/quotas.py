"""Compute quotas: limits (defaults, quota classes, per-project overrides) and counted usage.

Usage is counted from the rows that exist, as Nova's counting quotas do: instances, cores and
RAM from live instances (one SQL sum), server groups and key pairs from theirs. `reserve` is
what the servers API calls before it creates instances or resizes one, in the transaction that
then writes them; it first bumps the project's lock row so that concurrent boots and resizes of
one project check and write one at a time. Boots of a known count go in batches instead
(`ProjectQueues.together`, `ServerTally`): one lock and one count for the boots of a project
waiting in an API process, each checked beside those before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db import locks
from overcast.compute.models.instances import Instance
from overcast.compute.models.keypairs import KeyPair
from overcast.compute.models.quotas import ProjectLock, Quota, QuotaClass, UserQuota
from overcast.compute.models.server_groups import ServerGroup

UNLIMITED = -1
Item = TypeVar("Item")  # what `ProjectQueues.together` batches
DEFAULTS: dict[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "metadata_items": 128,
    "key_pairs": 100,
    "server_groups": 10,
    "server_group_members": 10,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    # nova-network's quotas, still shown before microversion 2.36; nothing enforces them here.
    "floating_ips": 10,
    "fixed_ips": -1,
    "security_groups": 10,
    "security_group_rules": 20,
}


class QuotaExceeded(errors.OverQuota):
    """Nova answers an exceeded compute quota with 403 Forbidden, not 413."""

    status = 403
    title = "Forbidden"


async def defaults(session: AsyncSession) -> dict[str, int]:
    """The limits a project without overrides has: built-in values, then quota class `default`."""
    return await class_limits(session, "default")


@dataclass(frozen=True)
class Limits:
    """A project's hard limits (the defaults with quota class `default` and the project's
    overrides applied) and a user's own overrides in it (empty for none)."""

    project: dict[str, int]
    user: dict[str, int]

    def merged(self) -> dict[str, int]:
        return {**self.project, **self.user}


async def read(session: AsyncSession, project_id: str, user_id: str | None = None) -> Limits:
    """`project_id`'s limits, with `user_id`'s own: one statement for the three tables."""
    parts: list[Any] = [
        select(literal("class"), QuotaClass.resource, QuotaClass.hard_limit).where(
            QuotaClass.class_name == "default"
        ),
        select(literal("project"), Quota.resource, Quota.hard_limit).where(
            Quota.project_id == project_id
        ),
    ]
    if user_id is not None:
        parts.append(
            select(literal("user"), UserQuota.resource, UserQuota.hard_limit).where(
                UserQuota.project_id == project_id, UserQuota.user_id == user_id
            )
        )
    found: dict[str, dict[str, int]] = {"class": {}, "project": {}, "user": {}}
    for source, resource, limit in (await session.execute(union_all(*parts))).all():
        found[source][resource] = limit
    project = dict(DEFAULTS)
    for source in ("class", "project"):
        project.update({k: v for k, v in found[source].items() if k in DEFAULTS})
    return Limits(project, found["user"])


async def limits(
    session: AsyncSession, project_id: str, user_id: str | None = None
) -> dict[str, int]:
    """The hard limits of `project_id` (defaults with the project's overrides applied), and
    with `user_id`, that user's own limits over them."""
    return (await read(session, project_id, user_id)).merged()


_SERVERS = frozenset({"instances", "cores", "ram"})


async def usage(
    session: AsyncSession,
    project_id: str,
    user_id: str | None = None,
    *,
    of_user: bool = False,
    only: Collection[str] | None = None,
) -> dict[str, int]:
    """What `project_id` uses now (with `of_user`, what `user_id`'s servers in it use); key
    pairs belong to users, so they count only for `user_id`. Cores and RAM are summed from the
    instances' counted sizes (see `Instance.vcpus`). With `only`, just those resources are
    counted (the others are missing)."""
    wanted = set(_SERVERS | {"server_groups", "key_pairs"} if only is None else only)
    out: dict[str, int] = {}
    if wanted & _SERVERS:
        where = [Instance.project_id == project_id, Instance.deleted.is_(False)]
        if of_user:
            where.append(Instance.user_id == user_id)
        live = await session.execute(
            select(
                func.count(Instance.id),
                func.coalesce(func.sum(Instance.vcpus), 0),
                func.coalesce(func.sum(Instance.memory_mb), 0),
            ).where(*where)
        )
        out["instances"], out["cores"], out["ram"] = (int(v) for v in live.one())
    if "server_groups" in wanted:
        out["server_groups"] = (
            await session.scalar(
                select(func.count())
                .select_from(ServerGroup)
                .where(ServerGroup.project_id == project_id)
            )
            or 0
        )
    if "key_pairs" in wanted:
        out["key_pairs"] = 0
        if user_id is not None:
            out["key_pairs"] = (
                await session.scalar(
                    select(func.count()).select_from(KeyPair).where(KeyPair.user_id == user_id)
                )
                or 0
            )
    return out


async def reserve(
    session: AsyncSession,
    project_id: str,
    user_id: str,
    deltas: Mapping[str, int],
    known: Limits | None = None,
) -> None:
    """Check that `project_id` may grow by `deltas` (e.g. {"instances": 1, "cores": 2, "ram":
    512}); raise QuotaExceeded (403) in Nova's words otherwise.

    Call it in the transaction that then creates the resources: the project's lock row is
    updated first, so a concurrent reserve of the same project waits until this one commits.
    Nothing is recorded: once the rows exist, they are the usage. Take `lock_project` before
    any other read of the transaction: on MariaDB (REPEATABLE READ) the first read fixes the
    snapshot that usage would be counted from. `known`: the limits, if the caller has read them
    (in another session before the lock, say: limits need no lock, only usage does).
    """
    wanted = {k: int(v) for k, v in deltas.items() if int(v) > 0}
    if not wanted:
        return
    await lock_project(session, project_id)
    known = known or await read(session, project_id, user_id)
    _refuse_over(wanted, known.project, await usage(session, project_id, user_id, only=wanted))
    if known.user:
        used = await usage(session, project_id, user_id, of_user=True, only=wanted)
        _refuse_over(wanted, known.user, used)


class ServerTally:
    """A project's instances, cores and RAM (and those of each of its users with limits of
    their own) counted once under the project's lock, plus what the requests taken since
    added: a batch of the project's boots is checked in turn, in one transaction, with one
    count (`boot`)."""

    def __init__(self, session: AsyncSession, project_id: str) -> None:
        self.session = session
        self.project_id = project_id
        self._project: dict[str, int] | None = None
        self._users: dict[str, dict[str, int]] = {}

    async def take(self, user_id: str, deltas: Mapping[str, int], known: Limits) -> None:
        """Add `deltas` (of instances, cores, RAM) if they fit; QuotaExceeded otherwise."""
        wanted = {k: int(v) for k, v in deltas.items() if int(v) > 0}
        if not wanted:
            return
        await lock_project(self.session, self.project_id)
        if self._project is None:
            self._project = await usage(self.session, self.project_id, only=_SERVERS)
        _refuse_over(wanted, known.project, self._project)
        counted = [self._project]
        if known.user:
            own = self._users.get(user_id)
            if own is None:
                own = self._users[user_id] = await usage(
                    self.session, self.project_id, user_id, of_user=True, only=_SERVERS
                )
            _refuse_over(wanted, known.user, own)
            counted.append(own)
        for used in counted:
            for resource, amount in wanted.items():
                used[resource] = used.get(resource, 0) + amount


def _refuse_over(wanted: dict[str, int], hard: Mapping[str, int], used: Mapping[str, int]) -> None:
    """QuotaExceeded, in Nova's words, if `wanted` does not fit `hard` beside `used`."""
    overs = [
        r for r in wanted if hard.get(r, UNLIMITED) >= 0 and used.get(r, 0) + wanted[r] > hard[r]
    ]
    if overs:
        raise QuotaExceeded(
            "Quota exceeded for {o}: Requested {r}, but already used {u} of {a} {o}".format(
                o=", ".join(overs),
                r=", ".join(str(wanted[x]) for x in overs),
                u=", ".join(str(used.get(x, 0)) for x in overs),
                a=", ".join(str(hard[x]) for x in overs),
            )
        )


async def check_limit(
    session: AsyncSession, project_id: str, resource: str, value: int, known: Limits | None = None
) -> int:
    """For limits on a size rather than a count (metadata_items, server_group_members): raise
    QuotaExceeded if `value` is over the limit; return the limit (-1 for none)."""
    known = known or await read(session, project_id)
    allowed = known.project.get(resource, UNLIMITED)
    if 0 <= allowed < value:
        if resource == "metadata_items":
            raise QuotaExceeded(f"Maximum number of metadata items exceeds {allowed}")
        raise QuotaExceeded(
            f"Quota exceeded for {resource}: Requested {value}, but limit is {allowed}"
        )
    return allowed


class ProjectQueues:
    """This process's turns at one project's quota-checked writes. The project's row lock
    orders them across processes; here they wait in the event loop, not on that lock with a
    pooled connection each (a burst of one project's boots would hold every connection of the
    process waiting for it, and its other requests would time out on the pool)."""

    def __init__(self) -> None:
        self._turns: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._waiting: dict[str, list[Any]] = {}

    @asynccontextmanager
    async def turn(self, project_id: str) -> AsyncIterator[None]:
        lock, waiting = self._turns.setdefault(project_id, (asyncio.Lock(), [0]))
        waiting[0] += 1
        try:
            async with lock:
                yield
        finally:
            waiting[0] -= 1
            if not waiting[0]:
                del self._turns[project_id]

    async def together(
        self,
        project_id: str,
        item: Item,
        run: Callable[[list[Item]], Awaitable[list[Any]]],
        most: int,
    ) -> Any:
        """`item`'s outcome from `run`, in a batch of the project's items waiting for their turn:
        the turn runs every item still waiting then (up to `most` at a time, in order) with one
        `run`, so that a burst of the project's writes shares one transaction and one count of
        its usage instead of taking the lock one by one. `run` gives each item's outcome, a
        result or an exception (raised here); if `run` fails, its items fail with it."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.setdefault(project_id, [])
        waiting.append((item, done))
        try:
            async with self.turn(project_id):
                while not done.done():
                    taken, waiting[:] = waiting[:most], waiting[most:]
                    await _settle(taken, run)
        finally:
            if not done.done():  # cancelled while it waited: it must not run later
                waiting[:] = [w for w in waiting if w[1] is not done]
            if not waiting and self._waiting.get(project_id) is waiting:
                del self._waiting[project_id]
        return done.result()


async def _settle(
    taken: list[tuple[Item, asyncio.Future[Any]]], run: Callable[[list[Item]], Awaitable[list[Any]]]
) -> None:
    try:
        outcomes = await run([item for item, _ in taken])
    except Exception as exc:
        outcomes = [exc] * len(taken)
    except BaseException:  # cancelled: the others of the batch still need their answer
        outcomes = [errors.ServiceUnavailable("the request was interrupted")] * len(taken)
        raise
    finally:
        for (_, found), outcome in zip(taken, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                found.set_exception(outcome)
            else:
                found.set_result(outcome)


async def lock_project(session: AsyncSession, project_id: str) -> None:
    """Take the project's row lock for the rest of the transaction (an upsert of its row),
    unless this session's transaction holds it already."""
    held: set[str] = session.info.setdefault("overcast_locked_projects", set())
    if project_id not in held:
        await locks.bump(session, ProjectLock, "project_id", project_id, "generation")
        held.add(project_id)


async def update_project(
    session: AsyncSession, project_id: str, values: Mapping[str, int], *, force: bool = False
) -> None:
    """Set `project_id`'s limits. Unless `force`, a limit below what is in use is refused
    (400), as Nova does; -1 means unlimited."""
    if not force:
        used = await usage(session, project_id)
        for resource, limit in values.items():
            minimum = used.get(resource, 0) if resource != "key_pairs" else 0
            if limit != UNLIMITED and limit < minimum:
                raise errors.BadRequest(
                    f"Quota limit {limit} for {resource} must be greater than or equal to "
                    f"already used and reserved {minimum}."
                )
    for resource, limit in values.items():
        row = await session.get(Quota, (project_id, resource))
        if row is None:
            session.add(Quota(project_id=project_id, resource=resource, hard_limit=limit))
        else:
            row.hard_limit = limit
    await session.flush()


async def update_user(
    session: AsyncSession,
    project_id: str,
    user_id: str,
    values: Mapping[str, int],
    *,
    force: bool = False,
) -> None:
    """Set `user_id`'s limits in `project_id`: never above the project's (400), nor, unless
    `force`, below what the user's servers use."""
    project = await limits(session, project_id)
    used = await usage(session, project_id, user_id, of_user=True)
    for resource, limit in values.items():
        ceiling = project.get(resource, UNLIMITED)
        if ceiling != UNLIMITED and (limit == UNLIMITED or limit > ceiling):
            raise errors.BadRequest(
                f"Quota limit {limit} for {resource} must be less than or equal to the "
                f"project's {ceiling}."
            )
        if not force and limit != UNLIMITED and limit < used.get(resource, 0):
            raise errors.BadRequest(
                f"Quota limit {limit} for {resource} must be greater than or equal to "
                f"already used and reserved {used.get(resource, 0)}."
            )
    for resource, limit in values.items():
        row = await session.get(UserQuota, (project_id, user_id, resource))
        if row is None:
            session.add(
                UserQuota(
                    project_id=project_id, user_id=user_id, resource=resource, hard_limit=limit
                )
            )
        else:
            row.hard_limit = limit
    await session.flush()


async def reset_project(session: AsyncSession, project_id: str, user_id: str | None = None) -> None:
    """Drop every override of `project_id` (or only `user_id`'s in it): back on the defaults."""
    stmt: Any = select(UserQuota).where(UserQuota.project_id == project_id)
    if user_id is not None:
        stmt = stmt.where(UserQuota.user_id == user_id)
    else:
        for row in (
            await session.execute(select(Quota).where(Quota.project_id == project_id))
        ).scalars():
            await session.delete(row)
    for row in (await session.execute(stmt)).scalars():
        await session.delete(row)


async def update_class(session: AsyncSession, class_name: str, values: Mapping[str, int]) -> None:
    """Set limits of a quota class; class `default` is every project's default."""
    for resource, limit in values.items():
        row = await session.get(QuotaClass, (class_name, resource))
        if row is None:
            session.add(QuotaClass(class_name=class_name, resource=resource, hard_limit=limit))
        else:
            row.hard_limit = limit
    await session.flush()


async def class_limits(session: AsyncSession, class_name: str) -> dict[str, int]:
    """A quota class's limits: the built-in defaults, then what the class sets."""
    values = dict(DEFAULTS)
    rows = await session.execute(select(QuotaClass).where(QuotaClass.class_name == class_name))
    values.update({r.resource: r.hard_limit for r in rows.scalars() if r.resource in values})
    return values
