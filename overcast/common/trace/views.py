"""The read side of tracing, shared by every service's trace routes: a resource's trace as a
JSON document, or as Server-Sent Events that push each span as it starts and ends.

The document (`GET .../trace`):

    {"trace": {"id", "request_id", "action", "resource_id", "started",
               "spans": [{"id", "parent", "name", "kind", "service", "host", "start",
                          "offset_ms", "duration_ms", "status", "error", "info"}]}}

`kind` is wsgi (a REST call served: info method, path, status), rpc (a bus message: info
method), db (a transaction: info statements, writes), driver (a driver call: info method) or
step (a named step of the workflow). `status` is "running" (started, not ended), "ok" or
"error" (`error` then says why, in words the owner can act on). `offset_ms` counts from the
trace's first span; `duration_ms` is null while running. Hosts (`host`, and info keys that name
hosts) are shown to admins only; others see null.

The stream (`Accept: text/event-stream`, or `?stream=1`): one `event: span` per span row as it
is written (`id:` the row id; `Last-Event-ID` resumes, skipping rows up to it; `data:` a span as above whose
`phase` is "start" or "end"), then `event: end` once the service says the workflow is over (or
after `timeout` seconds); comments keep idle connections open. Rows are read with one indexed
query as soon as this process's recorder has written (spans recorded here) and at least every
`POLL` seconds (spans recorded by other processes), so a step reaches a reader within about
`flush_interval` (same process) or `flush_interval + POLL` (another) of happening.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from overcast.common import errors
from overcast.common.db.session import Database
from overcast.common.trace import recorder, store

POLL = 0.1
KEEPALIVE = 15.0
# Info keys that name hosts or internal addresses: admins only.
ADMIN_INFO = frozenset({"host", "hosts", "node", "weights", "target", "chosen", "rejected_hosts"})


def _iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.UTC).isoformat(timespec="microseconds")


def _scrub(value: Any) -> Any:
    """`value` without the keys that name hosts, at any depth."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in ADMIN_INFO}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def span_view(row: store.SpanRow, base_us: int, admin: bool) -> dict[str, Any]:
    info = row.info or {}
    if not admin:
        info = _scrub(info)
    ended = row.phase == "end"
    return {
        "id": row.span_id,
        "parent": row.parent_id,
        "name": row.name,
        "kind": row.kind,
        "service": row.service,
        "host": row.host if admin else None,
        "start": _iso(row.start_us),
        "offset_ms": round((row.start_us - base_us) / 1000, 3),
        "duration_ms": round(row.duration_us / 1000, 3) if row.duration_us is not None else None,
        "status": ("error" if row.error else "ok") if ended else "running",
        "error": row.error,
        "info": info,
    }


def spans(rows: list[store.SpanRow], admin: bool) -> list[dict[str, Any]]:
    """One entry per span (its end row, else its start row), in order of start."""
    latest: dict[str, store.SpanRow] = {}
    for row in rows:
        if row.phase == "end" or row.span_id not in latest:
            latest[row.span_id] = row
    ordered = sorted(latest.values(), key=lambda r: (r.start_us, r.id))
    base = ordered[0].start_us if ordered else 0
    return [span_view(r, base, admin) for r in ordered]


async def _link(
    db: Database, resource_type: str, resource_id: str, request_id: str | None
) -> store.LinkRow | None:
    async with db.reader() as session:
        found = await store.links(session, resource_type, resource_id, request_id)
    return found[0] if found else None


def _not_traced(resource_id: str, request_id: str | None) -> errors.NotFound:
    what = f"request {request_id} on {resource_id}" if request_id else resource_id
    return errors.NotFound(f"No trace was recorded for {what}.")


async def document(
    db: Database, resource_type: str, resource_id: str, request_id: str | None, admin: bool
) -> dict[str, Any]:
    link = await _link(db, resource_type, resource_id, request_id)
    if link is None:
        raise _not_traced(resource_id, request_id)
    async with db.reader() as session:
        rows = await store.rows(session, link.trace_id)
    return {
        "trace": {
            "id": link.trace_id,
            "request_id": link.request_id,
            "action": link.action,
            "resource_id": link.resource_id,
            "started": _iso(link.created_us),
            "spans": spans(rows, admin),
        }
    }


def wants_stream(request: Request) -> bool:
    return request.query_params.get("stream") in ("1", "true") or "text/event-stream" in (
        request.headers.get("accept") or ""
    )


async def respond(
    request: Request,
    db: Database,
    resource_type: str,
    resource_id: str,
    request_id: str | None,
    admin: bool,
    done: Callable[[], Awaitable[bool]],
    timeout: float = 900.0,
) -> Response:
    """The trace document, or its stream when the request asks for one."""
    if not wants_stream(request):
        return JSONResponse(await document(db, resource_type, resource_id, request_id, admin))
    last = request.headers.get("last-event-id") or ""
    after = int(last) if last.isdigit() else 0
    events = _events(db, resource_type, resource_id, request_id, admin, done, after, timeout)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    db: Database,
    resource_type: str,
    resource_id: str,
    request_id: str | None,
    admin: bool,
    done: Callable[[], Awaitable[bool]],
    after: int,
    timeout: float,
) -> AsyncIterator[bytes]:
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    link = None
    base = 0
    seen: set[int] = set()
    finished = False
    yield b": trace stream\n\n"
    while time.monotonic() < deadline:
        if link is None:
            link = await _link(db, resource_type, resource_id, request_id)
        rows: list[store.SpanRow] = []
        if link is not None:
            async with db.reader() as session:
                rows = await store.unseen(session, link.trace_id, seen)
        for row in rows:
            seen.add(row.id)
            if row.id <= after:
                continue
            base = base or row.start_us
            data = {
                **span_view(row, base, admin),
                "phase": row.phase,
                "trace": link and link.trace_id,
            }
            yield f"event: span\nid: {row.id}\ndata: {json.dumps(data)}\n\n".encode()
        now = time.monotonic()
        if rows:
            quiet_since = now
        elif finished and now - quiet_since > POLL * 3:
            break  # the workflow is over and its last spans (other processes') are in
        elif now - quiet_since > KEEPALIVE:
            quiet_since = now
            yield b": keepalive\n\n"
        if not finished and await done():
            finished = True
            quiet_since = time.monotonic()
        await recorder.written(POLL)
    yield b"event: end\ndata: {}\n\n"
