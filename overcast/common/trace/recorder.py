"""This process's recorder: spans of recorded traces are queued as they start and end and
written to the database in batches, at most one write per `settings.trace.flush_interval`
seconds while there is something to write (nothing runs when nothing is traced), then handed
to the OTLP exporter when a collector is configured.

`start` is called once per process by `overcast.app` after the migrations; it also receives
what `spans.link` records (a request that turned out to be a workflow on a resource).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
from typing import Any

from sqlalchemy import insert

from overcast.common import log
from overcast.common.config import Settings
from overcast.common.db.session import Database
from overcast.common.trace import otlp, propagate, spans, store

LOG = log.get(__name__)
UNLINKED_KEEP = 3600.0  # seconds the spans of traces no resource links to are kept


def _row(phase: str, span: spans.Span) -> dict[str, Any]:
    try:
        info = json.loads(json.dumps(span.info, default=str))
    except (TypeError, ValueError):
        info = {"unreadable": True}
    return {
        "trace_id": span.trace.trace_id,
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "phase": phase,
        "name": span.name[:255],
        "kind": span.kind,
        "service": span.service[:32],
        "host": span.host[:255],
        "start_us": int(span.start * 1_000_000),
        "duration_us": None if span.duration is None else int(span.duration * 1_000_000),
        "info": info,
        "error": span.error,
    }


class Recorder:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.rows: list[dict[str, Any]] = []
        self.links: list[dict[str, Any]] = []
        self.exporter = otlp.Exporter(settings.trace.otlp_url) if settings.trace.otlp_url else None
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._swept = 0.0
        self._task: asyncio.Task[None] | None = None

    def push(self, phase: str, span: spans.Span) -> None:
        self.rows.append(_row(phase, span))
        self._wake.set()

    def link(self, values: dict[str, Any]) -> None:
        values["created_us"] = int(time.time() * 1_000_000)
        self.links.append(values)
        self._wake.set()

    async def start(self) -> None:
        key = await store.signing_key(self.db)
        propagate.set_keys([key, *self.settings.trace.hmac_keys])
        trace = self.settings.trace
        spans.configure(
            self.push, self.settings.host_name, trace.max_spans, trace.enabled, self.link
        )
        # Its own (empty) context: the recorder's writes are not traced themselves.
        self._task = asyncio.get_running_loop().create_task(
            self._run(), context=contextvars.Context()
        )

    async def _run(self) -> None:
        # A span after a quiet spell is written at once; the ones that follow within
        # `flush_interval` of a write wait for the next, in one batch.
        loop = asyncio.get_running_loop()
        last = 0.0
        while True:
            await self._wake.wait()
            await asyncio.sleep(max(0.0, last + self.settings.trace.flush_interval - loop.time()))
            self._wake.clear()
            last = loop.time()
            await self.flush()

    async def flush(self) -> None:
        rows, self.rows = self.rows, []
        links, self.links = self.links, []
        if not rows and not links:
            return
        # A span that started and ended since the last write needs its end row only (it
        # carries the start too): a busy process writes about a third fewer rows.
        ended = {r["span_id"] for r in rows if r["phase"] == "end"}
        rows = [r for r in rows if r["phase"] == "end" or r["span_id"] not in ended]
        try:
            # Spans, links and their bounds need no transaction together: each statement
            # commits on its own where that saves round trips (`Database.each`).
            async with self.db.each() as session:
                # Core inserts (executemany): the ORM's bulk path costs several times more.
                if rows:
                    await session.execute(insert(store.SPANS), rows)
                if links:
                    await session.execute(insert(store.LINKS), links)
                # A resource's create is its first trace: nothing of it to drop yet.
                older = {(v["resource_type"], v["resource_id"]) for v in links}
                older -= {
                    (v["resource_type"], v["resource_id"]) for v in links if v["action"] == "create"
                }
                for found in older:
                    await store.prune(session, *found, self.settings.trace.keep_per_resource)
                if time.time() - self._swept > UNLINKED_KEEP / 4:
                    self._swept = time.time()
                    before = int((self._swept - UNLINKED_KEEP) * 1_000_000)
                    await store.drop_unlinked(session, before)
        except Exception:  # tracing must never break the work it watches
            LOG.warning("could not write %d trace spans", len(rows), exc_info=True)
        # Readers of this process's streams look now rather than at their next poll.
        flushed, self._flushed = self._flushed, asyncio.Event()
        flushed.set()
        if self.exporter is not None and rows:
            await self.exporter.export(rows)

    async def stop(self) -> None:
        spans.configure(None, self.settings.host_name, self.settings.trace.max_spans, False, None)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()
        if self.exporter is not None:
            await self.exporter.close()

    async def written(self, timeout: float) -> None:
        """Return when this recorder next writes, or after `timeout` seconds."""
        try:
            await asyncio.wait_for(self._flushed.wait(), timeout)
        except TimeoutError:
            pass


_RUNNING: list[Recorder] = []


async def start(settings: Settings, db: Database) -> Recorder:
    recorder = Recorder(settings, db)
    await recorder.start()
    _RUNNING[:] = [recorder]
    return recorder


async def written(timeout: float) -> None:
    """Wait until this process's recorder writes spans, at most `timeout` seconds: a stream
    reader's poll, woken early when the spans come from this process (see views)."""
    if _RUNNING:
        await _RUNNING[0].written(timeout)
    else:
        await asyncio.sleep(timeout)
