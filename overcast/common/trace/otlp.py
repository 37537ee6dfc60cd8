"""OTLP/HTTP export of finished spans to Jaeger or any OpenTelemetry collector
(`settings.trace.otlp_url`, e.g. `http://jaeger:4318/v1/traces`).

OTLP's JSON encoding over httpx, rather than the opentelemetry-exporter packages: those export
the SDK's own span objects, synchronously through `requests`, where the recorder already holds
finished spans in an asyncio loop. One POST per batch the recorder writes; a collector that
fails or is away costs a log line, never the traced work. Called by `recorder`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx

from overcast.common import log

LOG = log.get(__name__)

# OTLP span kinds: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
_KIND = {"wsgi": 2, "rpc": 5, "db": 3, "driver": 3, "step": 1}


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value if isinstance(value, str) else str(value)}


def _span(row: dict[str, Any]) -> dict[str, Any]:
    start = row["start_us"] * 1000
    attributes = {"overcast.kind": row["kind"], "host.name": row["host"], **row["info"]}
    out: dict[str, Any] = {
        "traceId": row["trace_id"].rjust(32, "0"),
        "spanId": row["span_id"],
        "name": row["name"],
        "kind": _KIND.get(row["kind"], 1),
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + (row["duration_us"] or 0) * 1000),
        "attributes": [{"key": k, "value": _value(v)} for k, v in attributes.items()],
        "status": {"code": 2, "message": row["error"]} if row["error"] else {"code": 1},
    }
    if row["parent_id"]:
        out["parentSpanId"] = row["parent_id"]
    return out


def body(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The OTLP ExportTraceServiceRequest (JSON) for the finished spans among `rows`."""
    by_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["phase"] == "end":
            by_service[row["service"]].append(_span(row))
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": f"overcast-{service}"}}
                    ]
                },
                "scopeSpans": [{"scope": {"name": "overcast"}, "spans": found}],
            }
            for service, found in by_service.items()
        ]
    }


class Exporter:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(5.0))

    async def export(self, rows: list[dict[str, Any]]) -> None:
        payload = body(rows)
        if not payload["resourceSpans"]:
            return
        try:
            response = await self.client.post(self.url, json=payload)
            if response.status_code >= 400:
                LOG.warning("OTLP collector %s answered %s", self.url, response.status_code)
        except httpx.HTTPError as exc:
            LOG.warning("OTLP collector %s unreachable: %s", self.url, exc)

    async def close(self) -> None:
        await self.client.aclose()
