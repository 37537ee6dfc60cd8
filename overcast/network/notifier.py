"""Tells compute when a port of a server goes up or down, as Neutron's Nova notifier does:
`network-vif-plugged` / `network-vif-unplugged` through Nova's `os-server-external-events`,
with the service credentials. A server compute does not know (404) is not an error.

The agent is not held while compute is told: an event is queued and sent at once when no
request is in flight, else with the others queued meanwhile in the next request (Neutron
batches its events too), so 100 ports going ACTIVE together cost a few requests, not 100."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from overcast.clients.compute import ComputeClient
from overcast.clients.identity import ServiceToken
from overcast.common import errors, log
from overcast.common.config import Settings

LOG = log.get(__name__)


class NovaNotifier:
    def __init__(self, settings: Settings, endpoint: Callable[[str], str]) -> None:
        self.token = ServiceToken(settings)
        self.endpoint = endpoint
        self._queue: list[dict[str, Any]] = []
        self._sending: asyncio.Task[None] | None = None

    async def port_status(self, port: dict[str, Any], status: str) -> None:
        name = "network-vif-plugged" if status == "ACTIVE" else "network-vif-unplugged"
        self._queue.append(
            {"name": name, "server_uuid": port["device_id"], "tag": port["id"],
             "status": "completed"}
        )  # fmt: skip
        if self._sending is None or self._sending.done():
            self._sending = asyncio.get_running_loop().create_task(self._send_queued())

    async def _send_queued(self) -> None:
        while self._queue:
            events, self._queue = self._queue, []
            try:
                await self._send(events)
            except Exception:  # the next events still go
                LOG.exception("could not notify compute", extra={"fields": {"events": events}})

    async def _send(self, events: list[dict[str, Any]]) -> None:
        try:
            url = self.endpoint("compute")
        except errors.ServiceUnavailable:
            return
        for attempt in range(2):
            client = ComputeClient(url, await self.token.get())
            try:
                answered = await client.external_events(events)
            except errors.Unauthorized:
                self.token.forget()
                if attempt:
                    raise
                continue
            except errors.NotFound:
                LOG.info("compute does not know the servers", extra={"fields": {"events": events}})
                return
            except errors.OvercastError as exc:
                LOG.warning("could not notify compute",
                            extra={"fields": {"events": events, "error": exc.message}})  # fmt: skip
                return
            unknown = [e for e in answered if e.get("code") == 404]
            if unknown:
                LOG.info("compute does not know the servers", extra={"fields": {"events": unknown}})
            return
