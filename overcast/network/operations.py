"""The generic operations on any resource (`Kind`), each one transaction: list, show,
create (one or a bulk), update, delete and tags, with Neutron's policy checks, `If-Match`
and the retry that lets the database settle races (a lost race is an IntegrityError; the
retry re-reads and either succeeds or answers the proper 4xx)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from overcast.common import errors, log
from overcast.common.context import RequestContext
from overcast.network import attributes, listing, standard
from overcast.network.kinds import Kind, Op
from overcast.network.state import NetworkState

LOG = log.get(__name__)
T = TypeVar("T")


async def run(st: NetworkState, ctx: RequestContext, work: Callable[[Op], Awaitable[T]]) -> T:
    """`work` in one transaction, retried when the database refuses a racing write."""
    attempts = st.settings.network.max_allocation_attempts
    for attempt in range(attempts):
        try:
            async with st.db.session() as session:
                op = Op(st, ctx, session)
                result = await work(op)
            for action in op.after:
                try:
                    await action()
                except Exception:  # the agents' next full pass catches up
                    LOG.exception("post-commit action failed")
            return result
        except IntegrityError as exc:
            LOG.info(
                "retrying after a lost race",
                extra={"fields": {"attempt": attempt, "error": str(exc.orig)[:200]}},
            )
            if attempt == attempts - 1:
                raise errors.Conflict(
                    "The request conflicted with a concurrent change; try again.", kind="Conflict"
                ) from exc
    raise AssertionError("unreachable")


_PREPARED: set[tuple[str, str]] = set()


async def prepare(st: NetworkState, ctx: RequestContext, kind: Kind) -> None:
    """Run the kind's `prepare` once per project and process (it only ever creates)."""
    key = (kind.name, ctx.project_id or "")
    if type(kind).prepare is Kind.prepare or key in _PREPARED:
        return
    await run(st, ctx, kind.prepare)
    _PREPARED.add(key)


async def read(st: NetworkState, ctx: RequestContext, work: Callable[[Op], Awaitable[T]]) -> T:
    async with st.db.reader() as session:
        return await work(Op(st, ctx, session))


def _check_attrs(
    op: Op, kind: Kind, action: str, values: dict[str, Any], target: dict[str, Any]
) -> None:
    """Attribute rules: `create_router:external_gateway_info` and, for a dict value, the
    rules of its keys (`create_router:external_gateway_info:enable_snat`)."""
    for key, value in values.items():
        rules = [f"{action}_{kind.name}:{key}"]
        if isinstance(value, dict):
            rules += [f"{rules[0]}:{sub}" for sub in value]
        for rule in rules:
            if rule in op.st.rules and not op.allowed(rule, target):
                raise errors.Forbidden(
                    f"({rule}) is disallowed by policy", kind="PolicyNotAuthorized"
                )


async def show(op: Op, kind: Kind, ident: str, fields: list[str]) -> dict[str, Any]:
    row = await kind.load(op, ident)
    view = (await kind.views(op, [row]))[0]
    if not op.allowed(f"get_{kind.name}", await kind.target_of(op, row, view)):
        raise _hidden(kind, ident)
    return listing.shape(op, kind, view, fields)


def _hidden(kind: Kind, ident: str) -> errors.OvercastError:
    from overcast.network import faults

    return faults.not_found(kind.name, ident)


async def create_one(op: Op, kind: Kind, given: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    values = attributes.parse(kind.name, kind.attrs, {kind.name: given}, create=True)
    if "project_id" in values and values["project_id"] != op.ctx.project_id and not op.admin:
        raise errors.BadRequest(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
            kind="HTTPBadRequest",
        )
    target = await kind.create_target(op, values)
    op.enforce(f"create_{kind.name}", target)
    _check_attrs(op, kind, "create", {k: v for k, v in given.items()}, target)
    tags = values.pop("tags", None)
    row = await kind.create(op, values)
    await op.session.flush()
    if tags:
        await standard.set_tags(op.session, row.id, tags)
    op.made.setdefault(row.id, {})["tags"] = sorted(set(tags or ()))
    view = (await kind.views(op, [row]))[0]
    return row, listing.shape(op, kind, view, [])


async def create(op: Op, kind: Kind, body: Any) -> dict[str, Any]:
    """`{name: {...}}` or a bulk `{collection: [{...}, ...]}` (all or nothing)."""
    if isinstance(body, dict) and isinstance(body.get(kind.collection), list):
        made = [await create_one(op, kind, _object(kind, item)) for item in body[kind.collection]]
        return {kind.collection: [v for _r, v in made]}
    if not isinstance(body, dict) or kind.name not in body:
        raise errors.BadRequest(
            f"Resource body required: '{kind.name}' is missing.", kind="HTTPBadRequest"
        )
    _row, view = await create_one(op, kind, _object(kind, body[kind.name]))
    return {kind.name: view}


def _object(kind: Kind, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.BadRequest(
            f"Resource body for '{kind.name}' must be an object.", kind="HTTPBadRequest"
        )
    return value


async def update(op: Op, kind: Kind, ident: str, body: Any, if_match: str | None) -> dict[str, Any]:
    values = attributes.parse(kind.name, kind.attrs, body, create=False)
    row = await kind.load(op, ident, lock=True)
    standard.check_if_match(if_match, row)
    before = (await kind.views(op, [row]))[0]
    target = await kind.target_of(op, row, before)
    if not op.allowed(f"update_{kind.name}", target):
        if not op.allowed(f"get_{kind.name}", target):
            raise _hidden(kind, ident)
        raise errors.Forbidden(
            f"(update_{kind.name}) is disallowed by policy", kind="PolicyNotAuthorized"
        )
    _check_attrs(op, kind, "update", values, target)
    tags = values.pop("tags", None)
    row = await kind.update(op, row, values)
    if tags is not None:
        await standard.set_tags(op.session, row.id, tags)
    if hasattr(row, "revision_number"):
        standard.bump(row)
    await op.session.flush()
    view = (await kind.views(op, [row]))[0]
    return {kind.name: listing.shape(op, kind, view, [])}


async def delete(op: Op, kind: Kind, ident: str, if_match: str | None) -> dict[str, Any]:
    row = await kind.load(op, ident, lock=True)
    standard.check_if_match(if_match, row)
    view = (await kind.views(op, [row]))[0]
    target = await kind.target_of(op, row, view)
    if not op.allowed(f"delete_{kind.name}", target):
        if not op.allowed(f"get_{kind.name}", target):
            raise _hidden(kind, ident)
        raise errors.Forbidden(
            f"(delete_{kind.name}) is disallowed by policy", kind="PolicyNotAuthorized"
        )
    await kind.delete(op, row)
    await op.session.flush()
    return view


async def tags(
    op: Op, kind: Kind, ident: str, change: Callable[[list[str]], list[str]] | None
) -> list[str]:
    """The resource's tags, after `change` (old tags -> new tags) when given."""
    row = await kind.load(op, ident, lock=change is not None)
    current = (await standard.tags_of(op.session, [row.id])).get(row.id, [])
    if change is None:
        return current
    view = (await kind.views(op, [row]))[0]
    op.enforce(f"update_{kind.name}", await kind.target_of(op, row, view))
    new = change(current)
    await standard.set_tags(op.session, row.id, new)
    if hasattr(row, "revision_number"):
        standard.bump(row)
    return sorted(set(new))
