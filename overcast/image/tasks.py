"""Tasks (Glance's /v2/tasks): the record of an asynchronous image operation.

Every call of the import API records an `api_image_import` task, listed under its image
(GET /v2/images/{id}/tasks). An admin's POST /v2/tasks runs a legacy `import` task, which
creates an image and fills it from a URL. A task goes pending -> processing -> success or
failure; once ended it is kept `task_time_to_live` hours, then soft-deleted when next listed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from overcast.common import errors, log
from overcast.common.context import RequestContext
from overcast.common.db.base import utcnow
from overcast.common.http import pagination
from overcast.image import data, fetch, images, models, validation
from overcast.image.state import ImageState
from overcast.image.view import isotime

LOG = log.get(__name__)
Task = models.ImageTask
TYPES = ("import", "api_image_import", "location_import")
STATUSES = ("pending", "processing", "success", "failure")
SORT_KEYS = ("id", "type", "status", "owner", "expires_at", "created_at", "updated_at")
# The legacy import task's input: key -> JSON type it must have.
IMPORT_INPUT = {"import_from": str, "import_from_format": str, "image_properties": dict}


async def record(
    st: ImageState,
    ctx: RequestContext,
    kind: str,
    task_input: dict[str, Any],
    image_id: str | None = None,
) -> str:
    """A new pending task run by this host; its id."""
    now = utcnow()
    task = Task(
        id=str(uuid.uuid4()),
        type=kind,
        status="pending",
        owner=ctx.project_id or "",
        input=task_input,
        result=None,
        message="",
        image_id=image_id,
        request_id=ctx.request_id,
        user_id=ctx.user_id,
        host=st.host,
        created_at=now,
        updated_at=now,
        deleted=False,
    )
    async with st.db.session() as session:
        session.add(task)
    return task.id


async def _set(st: ImageState, task_id: str, **values: Any) -> None:
    async with st.db.session() as session:
        stmt = update(Task).where(Task.id == task_id).values(updated_at=utcnow(), **values)
        await session.execute(stmt.execution_options(synchronize_session=False))


async def begin(st: ImageState, task_id: str) -> None:
    await _set(st, task_id, status="processing")


async def end(
    st: ImageState,
    task_id: str,
    error: str | None,
    result: dict[str, Any] | None = None,
    image_id: str | None = None,
) -> None:
    """Success (no `error`) or failure; the task expires `task_time_to_live` hours from now."""
    expires = utcnow() + dt.timedelta(hours=st.settings.image.task_time_to_live)
    extra = {"image_id": image_id} if image_id else {}
    await _set(
        st,
        task_id,
        status="failure" if error else "success",
        message=error or "",
        result=result,
        expires_at=expires,
        host=None,
        **extra,
    )


async def recover(st: ImageState) -> None:
    """Fail the tasks this host was running when it stopped (their work is gone)."""
    async with st.db.session() as session:
        stmt = (
            update(Task)
            .where(Task.host == st.host, Task.status.in_(("pending", "processing")))
            .values(
                status="failure",
                message="The image service restarted while this task ran.",
                host=None,
                updated_at=utcnow(),
                expires_at=utcnow() + dt.timedelta(hours=st.settings.image.task_time_to_live),
            )
        )
        await session.execute(stmt.execution_options(synchronize_session=False))


def view(row: models.ImageTask, *, full: bool = True) -> dict[str, Any]:
    """A task as GET /v2/tasks/{id} shows it; `full=False`: the list's stub."""
    out: dict[str, Any] = {
        "id": row.id,
        "type": row.type,
        "status": row.status,
        "owner": row.owner,
        "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at),
        "self": f"/v2/tasks/{row.id}",
        "schema": "/v2/schemas/task",
    }
    if row.expires_at is not None:
        out["expires_at"] = isotime(row.expires_at)
    if full:
        out.update(input=row.input, result=row.result, message=row.message)
        for key in ("image_id", "request_id", "user_id"):
            if getattr(row, key):
                out[key] = getattr(row, key)
    return out


def _image_view(row: models.ImageTask) -> dict[str, Any]:
    """A task as GET /v2/images/{id}/tasks shows it (Glance gives its database record)."""
    return {
        "id": row.id,
        "type": row.type,
        "status": row.status,
        "owner": row.owner,
        "expires_at": isotime(row.expires_at),
        "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at),
        "deleted_at": None,
        "deleted": False,
        "image_id": row.image_id,
        "request_id": row.request_id,
        "user_id": row.user_id,
        "input": row.input,
        "result": row.result,
        "message": row.message,
    }


async def _expire(st: ImageState) -> None:
    now = utcnow()
    async with st.db.session() as session:
        stmt = (
            update(Task)
            .where(Task.deleted.is_(False), Task.expires_at <= now)
            .values(deleted=True, deleted_at=now)
        )
        await session.execute(stmt.execution_options(synchronize_session=False))


def _live() -> Any:
    return and_(Task.deleted.is_(False), or_(Task.expires_at.is_(None), Task.expires_at > utcnow()))


async def for_image(st: ImageState, ctx: RequestContext, image_id: str) -> list[dict[str, Any]]:
    """The tasks of an image the caller may read (404 for one it may not)."""
    await images.show(st, ctx, image_id)
    await _expire(st)
    async with st.db.reader() as session:
        stmt = select(Task).where(Task.image_id == image_id, _live()).order_by(Task.created_at)
        return [_image_view(row) for row in (await session.execute(stmt)).scalars()]


async def show(st: ImageState, ctx: RequestContext, task_id: str) -> dict[str, Any]:
    st.policy.enforce("tasks_api_access", ctx)
    async with st.db.reader() as session:
        row = await session.scalar(select(Task).where(Task.id == task_id, _live()))
    if row is None or (not ctx.is_admin and row.owner != ctx.project_id):
        raise errors.NotFound(f"Could not find task {task_id}")
    return view(row)


def _uuid_like(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _one(params: dict[str, str], key: str, choices: tuple[str, ...], what: str) -> str | None:
    value = params.get(key)
    if value is not None and value not in choices:
        raise errors.BadRequest(f"Invalid {what} value: {value}")
    return value


async def listing(
    st: ImageState, ctx: RequestContext, params: dict[str, str]
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of tasks (stubs) and the marker of the next page (None on the last)."""
    st.policy.enforce("tasks_api_access", ctx)
    unknown = set(params) - {"limit", "marker", "sort_key", "sort_dir", "status", "type"}
    if unknown:
        raise errors.BadRequest(f"Invalid filter: {', '.join(sorted(unknown))}")
    sort_key = _one(params, "sort_key", SORT_KEYS, "sort key") or "created_at"
    sort_dir = _one(params, "sort_dir", ("asc", "desc"), "sort direction") or "desc"
    where = [_live()]
    status = _one(params, "status", STATUSES, "status")
    kind = _one(params, "type", TYPES, "type")
    if status:
        where.append(Task.status == status)
    if kind:
        where.append(Task.type == kind)
    if not ctx.is_admin:
        where.append(Task.owner == ctx.project_id)
    marker = params.get("marker")
    if marker is not None and not _uuid_like(marker):
        raise errors.BadRequest("Invalid marker format")
    limit = min(
        pagination.parse_limit(params.get("limit")) or st.settings.image.limit_param_default,
        st.settings.image.api_limit_max,
    )
    await _expire(st)
    async with st.db.reader() as session:
        found = marker and await session.scalar(select(Task.id).where(*where, Task.id == marker))
        if marker is not None and not found:
            raise errors.BadRequest(f"Invalid marker. Task {marker} could not be found.")
        rows = await pagination.page(
            session,
            select(Task).where(*where),
            Task,
            limit=limit,
            marker=marker,
            sort=[(sort_key, sort_dir)],
            sortable=SORT_KEYS,
        )
    following = rows[-1].id if rows and len(rows) == limit else None
    return [view(row, full=False) for row in rows], following


def _import_input(body: dict[str, Any]) -> dict[str, Any]:
    task_input = body["input"]
    if not isinstance(task_input, dict):
        raise errors.BadRequest("Task 'input' must be an object.")
    for key, kind in IMPORT_INPUT.items():
        if key not in task_input:
            raise errors.BadRequest(f"Input does not contain '{key}' field")
        if not isinstance(task_input[key], kind):
            raise errors.BadRequest(f"Task input '{key}' must be of type {kind.__name__}.")
    return task_input


async def create(st: ImageState, ctx: RequestContext, body: Any) -> dict[str, Any]:
    """POST /v2/tasks: check the request, record the task and start it."""
    st.policy.enforce("tasks_api_access", ctx)
    if not isinstance(body, dict):
        raise errors.BadRequest("Body expected in request.")
    for key in ("type", "input"):
        if key not in body:
            raise errors.BadRequest(f"Task '{key}' is required")
    if body["type"] not in TYPES:
        raise errors.BadRequest(f"Invalid type value: {body['type']}")
    if body["type"] != "import":
        raise errors.BadRequest(
            f"Tasks of type '{body['type']}' are made by the image import API, not this one."
        )
    task_input = _import_input(body)
    uri = await fetch.check(st.settings.image, task_input["import_from"], "legacy import task")
    validation.validate(st.schema, task_input["image_properties"])
    task_id = await record(st, ctx, "import", task_input)
    st.spawn(_legacy_import(st, ctx, task_id, uri, dict(task_input["image_properties"])))
    async with st.db.reader() as session:
        row = await session.get(Task, task_id)
        assert row is not None
        return view(row)


async def _legacy_import(
    st: ImageState, ctx: RequestContext, task_id: str, uri: str, props: dict[str, Any]
) -> None:
    """Create the image, then fill it from `uri`; a failed fill leaves the image queued."""
    await begin(st, task_id)
    image_id = None
    try:
        image_id = (await images.create(st, ctx, props))["id"]
        await _set(st, task_id, image_id=image_id)
        await data.upload(st, ctx, image_id, fetch.stream(st.settings.image, uri))
    except (errors.OvercastError, OSError, SQLAlchemyError) as exc:
        LOG.warning("import task failed", extra={"fields": {"task": task_id, "error": str(exc)}})
        await end(st, task_id, f"Error: {exc}", image_id=image_id)
        return
    await end(st, task_id, None, {"image_id": image_id}, image_id)
