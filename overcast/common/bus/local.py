"""The in-process transport: topics and servers in one event loop.

Arguments and results make a JSON round trip, exactly what a network transport would carry, so
that code tested here behaves the same over RabbitMQ.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict
from typing import Any

from overcast.common import errors, log
from overcast.common.bus import endpoints, envelope
from overcast.common.trace import propagate

LOG = log.get(__name__)


class LocalBus:
    keeps_messages = False  # a crash takes every message in flight with it

    def __init__(self) -> None:
        self._servers: dict[str, dict[str, object]] = defaultdict(dict)
        self._round_robin: dict[str, itertools.count[int]] = defaultdict(itertools.count)
        self._tasks: set[asyncio.Task[Any]] = set()

    def serve(self, topic: str, endpoint: object, server: str | None = None) -> None:
        name = server or f"{topic}-{len(self._servers[topic])}"
        self._servers[topic][name] = endpoint

    def _pick(self, target: str) -> object:
        topic, _, server = target.partition(".")
        servers = self._servers.get(topic) or {}
        if server:
            if server not in servers:
                raise errors.ServiceUnavailable(f"no server {server!r} on topic {topic!r}")
            return servers[server]
        if not servers:
            raise errors.ServiceUnavailable(f"no server on topic {topic!r}")
        names = sorted(servers)
        return servers[names[next(self._round_robin[topic]) % len(names)]]

    async def _invoke(
        self,
        endpoint: object,
        method: str,
        ctx: dict[str, Any],
        kwargs: Any,
        target: str,
        trace: dict[str, str] | None,
    ) -> Any:
        payload = json.loads(json.dumps({"ctx": ctx, "args": kwargs}))
        try:
            result = await endpoints.invoke(
                endpoint, method, payload["ctx"], payload["args"], trace, target
            )
        except Exception as exc:
            # Errors travel as a network transport carries them: by class name and message.
            raise envelope.rebuild(envelope.describe(exc)) from exc
        return json.loads(json.dumps(result))

    async def call(
        self, target: str, method: str, ctx: dict[str, Any], timeout: float = 60.0, **kwargs: Any
    ) -> Any:
        endpoint = self._pick(target)
        try:
            return await asyncio.wait_for(
                self._invoke(endpoint, method, ctx, kwargs, target, propagate.bus_field()),
                timeout,
            )
        except TimeoutError as exc:
            raise errors.Timeout(f"RPC {target}.{method} timed out after {timeout}s") from exc

    async def cast(self, target: str, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        endpoint = self._pick(target)
        self._spawn(endpoint, target, method, ctx, kwargs)

    async def fanout(self, topic: str, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        # In one process delivery is immediate: every listener has run when fanout returns,
        # which is what lets a revocation take effect at once. Listeners run in turn.
        message = json.loads(json.dumps({"ctx": ctx, "args": kwargs}))  # as a transport would
        listeners = list(self._servers.get(topic, {}).values())
        results = await endpoints.invoke_each(
            listeners, method, message["ctx"], message["args"], propagate.bus_field(), topic
        )
        for result in results:
            if isinstance(result, BaseException):
                LOG.error("fanout %s.%s failed", topic, method, exc_info=result)

    def _spawn(
        self, endpoint: object, target: str, method: str, ctx: dict[str, Any], kwargs: Any
    ) -> None:
        job = self._invoke(endpoint, method, ctx, kwargs, target, propagate.bus_field())
        task = asyncio.create_task(job)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(t, target, method))

    def _finished(self, task: asyncio.Task[Any], target: str, method: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            LOG.error("cast %s.%s failed", target, method, exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for every cast in flight (tests and orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def start(self) -> None:
        """Nothing to connect to."""

    async def ready(self) -> None:
        """Servers are ready as soon as `serve` returns."""

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
