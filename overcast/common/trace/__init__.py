"""Tracing, recorded natively: every REST call, bus message, database transaction and driver
call of a workflow (a boot, a move, a volume create, an image upload) as spans in the database,
readable per resource through each service's API, streamed as they happen and exported over
OTLP when a collector is set.

    spans      the trace context (a contextvar) and spans: `span`, `event`, `note`, `current`
    propagate  signed X-Trace-Info/X-Trace-HMAC headers, the bus envelope's field
    instrument the driver-call decorator and the database hook
    recorder   this process's batched writer; `link` ties a request's trace to a resource
    store      the kernel's tables (its own Alembic branch, `trace`)
    views      the JSON document and the Server-Sent Events stream the services' routes serve
    otlp       the OTLP/HTTP exporter

Services write `trace.span("quota reserved")` around a step and `trace.link("server", uuid,
"create", request_id)` when a request starts a workflow; see views for the read API.
"""

from __future__ import annotations

from overcast.common.trace.spans import NOTHING, current, event, link, note, reason, span

__all__ = ["NOTHING", "current", "event", "link", "note", "reason", "span"]
