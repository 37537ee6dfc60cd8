"""One AMQP connection and channel that come back by themselves: `Link`.

`Link.run` connects, lets its owner declare the topology (`on_connect`), and when the broker
goes away (restart, network, heartbeat missed) reconnects with exponential back-off and a log
line per attempt, declaring the topology again each time. Senders wait for the link with
`channel(timeout)`, which raises ServiceUnavailable (a 503) rather than hang. Used by
`amqp.AmqpBus`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection
from yarl import URL

from overcast.common import errors, log

LOG = log.get(__name__)
# The link reports its state itself (one line per attempt); the library's own errors about the
# same events would only repeat them.
logging.getLogger("aiormq.connection").setLevel(logging.CRITICAL)

FIRST_DELAY = 0.1


def safe_url(url: str) -> str:
    """The URL without its password, for log lines."""
    parsed = URL(url)
    return str(parsed.with_password("***")) if parsed.password else url


class Link:
    def __init__(
        self,
        url: str,
        name: str,
        on_connect: Callable[[AbstractChannel], Awaitable[None]],
        *,
        heartbeat: int,
        prefetch: int,
        max_delay: float,
    ) -> None:
        parsed = URL(url)
        if "heartbeat" not in parsed.query:
            parsed = parsed.update_query(heartbeat=str(heartbeat))
        self.url = str(parsed)
        self.name = name
        self.on_connect = on_connect
        self.prefetch = prefetch
        self.max_delay = max_delay
        self.generation = 0  # bumped on every (re)connection
        self._channel: AbstractChannel | None = None
        self._connection: AbstractConnection | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def wait(self, timeout: float | None = None) -> None:
        """Until connected (or ServiceUnavailable after `timeout` seconds)."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError as exc:
            raise errors.ServiceUnavailable(
                f"the message bus at {safe_url(self.url)} is unreachable"
            ) from exc

    async def channel(self, timeout: float) -> AbstractChannel:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await self.wait(max(0.0, deadline - asyncio.get_running_loop().time()))
            # The link may have dropped again between the wake-up and now.
            channel = self._channel
            if channel is not None and not channel.is_closed:
                return channel
            await asyncio.sleep(0.01)

    async def _run(self) -> None:
        delay = FIRST_DELAY
        while not self._closing:
            lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
            try:
                await self._connect(lost)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure to connect or declare: try again later
                await self._drop()
                wait = delay * (1 + random.random() / 2)
                LOG.warning(
                    "bus: cannot reach %s (%s: %s); retrying in %.1fs",
                    safe_url(self.url),
                    type(exc).__name__,
                    exc,
                    wait,
                )
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.max_delay)
                continue
            delay = FIRST_DELAY
            LOG.info("bus: connected to %s as %s", safe_url(self.url), self.name)
            self._ready.set()
            reason = await lost  # the exception that closed it, if any
            self._ready.clear()
            if not self._closing:
                LOG.warning(
                    "bus: connection to %s lost (%s); reconnecting", safe_url(self.url), reason
                )
                await self._drop()

    async def _connect(self, lost: asyncio.Future[BaseException | None]) -> None:
        def on_close(_sender: Any, exc: BaseException | None = None) -> None:
            if not lost.done():
                lost.set_result(exc)

        self._connection = await aio_pika.connect(
            self.url, timeout=10, client_properties={"connection_name": self.name}
        )
        self._connection.close_callbacks.add(on_close)
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        channel.close_callbacks.add(on_close)
        await channel.set_qos(prefetch_count=self.prefetch)
        self._channel = channel
        self.generation += 1
        await self.on_connect(channel)

    async def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def close(self) -> None:
        self._closing = True
        self._ready.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop()
