"""The workflow timeline under an instance, a volume or an image: the trace of its newest action
(`.../{id}/trace` of compute, block storage or image), drawn as bars (SVG, no inline style),
and the same trace streamed live to the page: `.../trace/stream` relays the service's
Server-Sent Events with the user's token, so the resource's owner sees what the service lets
them see (hosts only for admins) and nothing else."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from overcast.dashboard import web
from overcast.dashboard.cloud import Get


def layout(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """Each span with its depth (for indenting) and its bar's place on a 0..1000 scale."""
    by_id = {s["id"]: s for s in spans}

    def depth(span: dict[str, Any]) -> int:
        found, parent = 0, span.get("parent")
        while parent in by_id and found < 12:
            found, parent = found + 1, by_id[parent].get("parent")
        return found

    end = max([(s.get("offset_ms") or 0) + (s.get("duration_ms") or 0) for s in spans] or [0])
    scale = 1000 / end if end > 0 else 0
    rows = [
        {
            **s,
            "depth": min(depth(s), 8),
            "x": round((s.get("offset_ms") or 0) * scale, 1),
            "w": max(2.0, round((s.get("duration_ms") or 0) * scale, 1)),
        }
        for s in spans
    ]
    return {"rows": rows, "total_ms": round(end, 1)}


def summary(info: dict[str, Any]) -> str:
    """What is behind a span (its REST call, bus message, database write or driver call)."""
    if not info:
        return ""
    if "method" in info and "path" in info:
        return f"{info['method']} {info['path']} {info.get('status', '')}".strip()
    return ", ".join(f"{k}={v}" for k, v in sorted(info.items()) if not isinstance(v, dict))[:200]


web.TEMPLATES.globals["span_summary"] = summary


def trace_get(service: str, resource: str) -> Get:
    """The GET of a resource's trace, for the page's batch (None when nothing was traced)."""
    return Get(service, f"{resource}/trace", optional=True)


def laid_out(body: dict[str, Any] | None) -> dict[str, Any] | None:
    if body is None:
        return None
    trace = body["trace"]
    return {**trace, **layout(trace.get("spans", []))}


def _relay(service: str, resource: str) -> web.Handler:
    """The handler relaying the trace stream of `resource` (a path with `{id}`)."""

    async def handler(p: web.Page) -> Response:
        return await _stream(p, service, resource.format(id=p.request.path_params["item_id"]))

    return handler


async def _stream(p: web.Page, service: str, resource: str) -> Response:
    headers = {"Accept": "text/event-stream"}
    last = p.request.headers.get("last-event-id")
    if last:
        headers["Last-Event-ID"] = last
    chunks = p.cloud.stream(service, f"{resource}/trace", live=True, headers=headers)
    first = await anext(chunks, b"")  # a refusal (404) is answered before the stream starts

    async def relay() -> Any:
        yield first
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(
        relay(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}
    )


routes = [
    Route(f"/project/{page}/{{item_id}}/trace/stream", web.page(_relay(service, resource)))
    for page, service, resource in (
        ("instances", "compute", "/servers/{id}"),
        ("volumes", "block-storage", "/volumes/{id}"),
        ("images", "image", "/v2/images/{id}"),
    )
]
