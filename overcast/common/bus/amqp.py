"""The RabbitMQ transport (`bus_url = "amqp://..."`), in the topology OpenStack's RPC uses.

Per service a durable topic exchange `overcast.<service>` (the topic up to its first "-"), and
per topic a shared queue `overcast.<topic>` (round robin between processes) and per server a
queue `overcast.<topic>.<server>`; per topic a fanout exchange `overcast.<topic>_fanout` with
one queue per process; per process a reply queue. Queues are durable and messages persistent
and confirmed by the broker, so a broker restart loses nothing it acknowledged; `link.Link`
reconnects with back-off and declares it all again. A fanout returns once every listening
process has handled it (their count is the consumer count of `overcast.<topic>_fanout.
listeners`), so a cache flushed over it is flushed everywhere when it returns. A call to a
topic this process serves itself (the conductor's to the scheduler in a controller) is answered
here, in the same envelope, without crossing the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, ExchangeType
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError, PublishError

from overcast.common import errors, log
from overcast.common.bus import endpoints, envelope
from overcast.common.bus.link import Link
from overcast.common.config import BusSettings

LOG = log.get(__name__)

PREFIX = "overcast"
_SEEN = 10000  # message ids remembered, to drop a resent duplicate
_OWN_QUEUE_EXPIRY_MS = 60_000  # a dead process's reply and fanout queues go after a minute


def exchange_of(topic: str) -> str:
    return f"{PREFIX}.{topic.partition('-')[0]}"


class AmqpBus:
    keeps_messages = True  # durable queues hold casts until a server takes them

    def __init__(self, url: str, settings: BusSettings, name: str = "overcast") -> None:
        self.settings = settings
        self.me = f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
        self.link = Link(
            url,
            f"{name}@{self.me}",
            self._declare_all,
            heartbeat=settings.heartbeat,
            prefetch=settings.prefetch,
            max_delay=settings.reconnect_max_delay,
        )
        self.reply_queue = f"{PREFIX}.reply.{self.me}"
        self._servers: dict[str, dict[str, object]] = defaultdict(dict)
        self._named: set[tuple[str, str]] = set()  # (topic, server) given a queue of its own
        self._round_robin: dict[str, itertools.count[int]] = defaultdict(itertools.count)
        self._exchanges: dict[str, AbstractExchange] = {}
        self._exchanges_of = -1  # the link generation `_exchanges` belongs to
        self._waiters: dict[str, Callable[[bytes], None]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._declaring: set[asyncio.Task[None]] = set()

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, waiting (and logging each retry) for as long as the broker is away."""
        self.link.start()
        await self.link.wait()
        await self.ready()

    async def ready(self) -> None:
        """Until every server registered so far has its queues and consumers."""
        while self._declaring:
            await asyncio.gather(*list(self._declaring), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.link.close()

    async def drain(self) -> None:
        """Wait for every handler in flight (tests and orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- serving ---------------------------------------------------------------------------

    def serve(self, topic: str, endpoint: object, server: str | None = None) -> None:
        first = topic not in self._servers
        name = server or f"{topic}-{len(self._servers[topic])}"
        self._servers[topic][name] = endpoint
        if server is not None:
            self._named.add((topic, server))
        if self.link.connected:
            task = asyncio.get_running_loop().create_task(
                self._declare_server(topic, server, first)
            )
            self._declaring.add(task)
            task.add_done_callback(self._declaring.discard)

    async def _declare_all(self, channel: AbstractChannel) -> None:
        """Everything this process consumes, on a new connection."""
        queue = await channel.declare_queue(
            self.reply_queue, durable=True, arguments={"x-expires": _OWN_QUEUE_EXPIRY_MS}
        )
        await queue.consume(self._on_reply)
        for topic in list(self._servers):
            await self._declare_server(topic, None, True, channel)
        for topic, server in list(self._named):
            await self._declare_server(topic, server, False, channel)

    async def _declare_server(
        self, topic: str, server: str | None, first: bool, channel: AbstractChannel | None = None
    ) -> None:
        try:
            channel = channel or await self.link.channel(self.settings.publish_timeout)
            exchange = await self._exchange(channel, exchange_of(topic), ExchangeType.TOPIC)
            if first:
                shared = await self._queue(channel, f"{PREFIX}.{topic}")
                await shared.bind(exchange, topic)
                await shared.consume(self._request_handler(topic, None))
                fan = await self._exchange(channel, f"{PREFIX}.{topic}_fanout", ExchangeType.FANOUT)
                mine = await channel.declare_queue(
                    f"{PREFIX}.{topic}_fanout.{self.me}",
                    durable=True,
                    arguments={"x-expires": _OWN_QUEUE_EXPIRY_MS},
                )
                await mine.bind(fan)
                await mine.consume(self._fanout_handler(topic))
                listeners = await self._listeners(channel, topic)
                await listeners.consume(_ignore)
            if server is not None:
                own = await self._queue(channel, f"{PREFIX}.{topic}.{server}")
                await own.bind(exchange, f"{topic}.{server}")
                await own.consume(self._request_handler(topic, server))
        except CONNECTION_EXCEPTIONS as exc:
            # The link is down: `_declare_all` declares it all again when it is back.
            LOG.debug("bus: declaring %s.%s postponed: %s", topic, server, exc)

    async def _queue(self, channel: AbstractChannel, name: str) -> aio_pika.abc.AbstractQueue:
        expiry = int(self.settings.queue_expiry * 1000)
        return await channel.declare_queue(name, durable=True, arguments={"x-expires": expiry})

    async def _listeners(self, channel: AbstractChannel, topic: str) -> aio_pika.abc.AbstractQueue:
        expiry = int(self.settings.queue_expiry * 1000)
        return await channel.declare_queue(
            f"{PREFIX}.{topic}_fanout.listeners", arguments={"x-expires": expiry}
        )

    async def _exchange(
        self, channel: AbstractChannel, name: str, kind: ExchangeType
    ) -> AbstractExchange:
        if self._exchanges_of != self.link.generation:
            self._exchanges, self._exchanges_of = {}, self.link.generation
        found = self._exchanges.get(name)
        if found is None:
            found = await channel.declare_exchange(name, kind, durable=True)
            self._exchanges[name] = found
        return found

    # -- receiving -------------------------------------------------------------------------

    def _accept(self, message: AbstractIncomingMessage) -> bool:
        """False for a copy of a message this process has had already."""
        msg_id = message.message_id
        if msg_id is not None:
            if msg_id in self._seen:
                return False
            self._seen[msg_id] = None
            if len(self._seen) > _SEEN:
                self._seen.popitem(last=False)
        return True

    def _request_handler(
        self, topic: str, server: str | None
    ) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def handle(message: AbstractIncomingMessage) -> None:
            if not self._accept(message):
                await _ack(message)
                return
            local = self._servers.get(topic, {})
            if server is not None:
                endpoint = local.get(server)
            else:
                names = sorted(local)
                endpoint = (
                    local[names[next(self._round_robin[topic]) % len(names)]] if names else None
                )
            self._spawn(self._run(topic, [endpoint] if endpoint is not None else [], message))

        return handle

    def _fanout_handler(self, topic: str) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def handle(message: AbstractIncomingMessage) -> None:
            await _ack(message)
            if self._accept(message):
                self._spawn(self._run(topic, list(self._servers.get(topic, {}).values()), message))

        return handle

    async def _run(
        self, topic: str, targets: list[object], message: AbstractIncomingMessage
    ) -> None:
        """Run a request on `targets` (one, or every local listener of a fanout); reply. A call
        of a `redeliverable` method is acknowledged once answered, any other message now."""
        try:
            method, ctx, args, trace = envelope.open_request(message.body)
            if message.redelivered:
                LOG.info("bus: %s.%s given again (a server took it and went away)", topic, method)
            if not (
                message.reply_to
                and targets
                and all(endpoints.redelivers(t, method) for t in targets)
            ):
                await _ack(message)
            if not targets:
                raise errors.ServiceUnavailable(f"no server on topic {topic!r} here")
            results = await endpoints.invoke_each(targets, method, ctx, args, trace, topic)
            for failure in results:
                if isinstance(failure, envelope.Refused):
                    LOG.warning(
                        "bus: refused %s.%s from %s: %s", topic, method, message.app_id, failure
                    )
                elif isinstance(failure, errors.OvercastError):  # the caller's to handle
                    LOG.info("bus: %s.%s answered %s", topic, method, failure.message)
                elif isinstance(failure, BaseException):
                    LOG.error("bus: %s.%s failed", topic, method, exc_info=failure)
            first = results[0]
            body = (
                envelope.error(first)
                if isinstance(first, BaseException)
                else envelope.result(first)
            )
        except envelope.Refused as exc:
            LOG.warning("bus: refused a message on %s from %s: %s", topic, message.app_id, exc)
            body = envelope.error(exc)
        except errors.OvercastError as exc:
            body = envelope.error(exc)
        if message.reply_to:
            await self._reply(message.reply_to, message.correlation_id or "", body, message)
        await _ack(message)

    async def _reply(
        self, reply_to: str, correlation_id: str, body: bytes, request: AbstractIncomingMessage
    ) -> None:
        expiration = request.expiration
        if not isinstance(expiration, int | float):
            expiration = self.settings.publish_timeout
        deadline = time.monotonic() + expiration
        try:
            await self._publish(
                "", ExchangeType.DIRECT, reply_to, body, deadline, correlation_id=correlation_id
            )
        except errors.OvercastError as exc:
            LOG.warning("bus: reply to %s dropped: %s", reply_to, exc)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        await _ack(message)
        waiter = self._waiters.get(message.correlation_id or "")
        if waiter is not None and self._accept(message):
            waiter(message.body)

    def _spawn(self, job: Awaitable[None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            LOG.error("bus: a background send failed", exc_info=task.exception())

    # -- sending ---------------------------------------------------------------------------

    async def call(
        self, target: str, method: str, ctx: dict[str, Any], timeout: float = 60.0, **kwargs: Any
    ) -> Any:
        topic, _, server = target.partition(".")
        here = self._server_here(topic, server)
        if here is not None:
            return await self._call_here(here, topic, target, method, ctx, timeout, kwargs)
        correlation_id = uuid.uuid4().hex
        replied: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        def answer(body: bytes) -> None:
            if not replied.done():
                replied.set_result(body)

        self._waiters[correlation_id] = answer
        deadline = time.monotonic() + timeout
        sending = asyncio.ensure_future(
            self._publish(
                exchange_of(topic),
                ExchangeType.TOPIC,
                target,
                envelope.request(method, ctx, kwargs),
                min(deadline, time.monotonic() + self.settings.publish_timeout),
                correlation_id=correlation_id,
                reply_to=self.reply_queue,
                expiration=timeout,
            )
        )
        try:
            # The reply may come before the broker's confirmation (which waits for the disk);
            # a reply proves delivery, so whichever comes first decides.
            both: set[asyncio.Future[Any]] = {sending, replied}
            await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
            if not replied.done():
                await sending  # raises if the broker never took it
            body = await asyncio.wait_for(replied, max(0.0, deadline - time.monotonic()))
        except TimeoutError as exc:
            raise errors.Timeout(f"RPC {target}.{method} timed out after {timeout}s") from exc
        finally:
            self._waiters.pop(correlation_id, None)
            if not sending.done():
                self._spawn(sending)  # let the confirmation arrive in the background
        return envelope.open_reply(body)

    def _server_here(self, topic: str, server: str) -> object | None:
        """This process's server of `topic` (the one named `server`, if named), if it has one."""
        local = self._servers.get(topic)
        if not local:
            return None
        if server:
            return local.get(server)
        names = sorted(local)
        return local[names[next(self._round_robin[topic]) % len(names)]]

    async def _call_here(
        self,
        endpoint: object,
        topic: str,
        target: str,
        method: str,
        ctx: dict[str, Any],
        timeout: float,
        kwargs: dict[str, Any],
    ) -> Any:
        """A call that a server of this process answers (the conductor's to the scheduler in a
        controller) need not cross the broker: four messages and their confirmations fewer.
        It travels in the envelope the broker would carry (the arguments copied, the trace
        continued, errors as they travel), and outlives a caller that gave up, as it would."""
        method, ctx, args, trace = envelope.open_request(envelope.request(method, ctx, kwargs))

        async def answer() -> bytes:
            try:
                found = await endpoints.invoke(endpoint, method, ctx, args, trace, topic)
                return envelope.result(found)
            except errors.OvercastError as exc:  # the caller's to handle
                LOG.info("bus: %s.%s answered %s", topic, method, exc.message)
                return envelope.error(exc)
            except Exception as exc:
                LOG.error("bus: %s.%s failed", topic, method, exc_info=exc)
                return envelope.error(exc)

        task = asyncio.ensure_future(answer())
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        try:
            body = await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError as exc:
            raise errors.Timeout(f"RPC {target}.{method} timed out after {timeout}s") from exc
        return envelope.open_reply(body)

    async def cast(self, target: str, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        await self._publish(
            exchange_of(target.partition(".")[0]),
            ExchangeType.TOPIC,
            target,
            envelope.request(method, ctx, kwargs),
            time.monotonic() + self.settings.publish_timeout,
        )

    async def fanout(self, topic: str, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        deadline = time.monotonic() + self.settings.publish_timeout
        channel = await self.link.channel(self.settings.publish_timeout)
        declared = (await self._listeners(channel, topic)).declaration_result
        expected = declared.consumer_count or 0
        correlation_id = uuid.uuid4().hex
        got = 0
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def ack(_body: bytes) -> None:
            nonlocal got
            got += 1
            if got >= expected and not done.done():
                done.set_result(None)

        self._waiters[correlation_id] = ack
        try:
            with contextlib.suppress(errors.ServiceUnavailable):  # nobody listens: done
                await self._publish(
                    f"{PREFIX}.{topic}_fanout",
                    ExchangeType.FANOUT,
                    "",
                    envelope.request(method, ctx, kwargs),
                    deadline,
                    correlation_id=correlation_id,
                    reply_to=self.reply_queue,
                )
            if expected and got < expected:
                await asyncio.wait_for(done, self.settings.fanout_timeout)
        except TimeoutError:
            LOG.warning(
                "bus: fanout %s.%s confirmed by %d of %d listeners", topic, method, got, expected
            )
        finally:
            self._waiters.pop(correlation_id, None)

    async def _publish(
        self,
        exchange_name: str,
        kind: ExchangeType,
        routing_key: str,
        body: bytes,
        deadline: float,
        *,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        expiration: float | None = None,
    ) -> None:
        """Publish until the broker confirms it, across reconnections, until `deadline`."""
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=uuid.uuid4().hex,
            correlation_id=correlation_id,
            reply_to=reply_to,
            expiration=expiration,
            app_id=self.me,
        )
        if self._declaring:  # a server of this process may be what this is for
            await self.ready()
        delay = 0.05
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.ServiceUnavailable(
                    f"the message bus did not take a message for {routing_key or exchange_name}"
                )
            channel = await self.link.channel(left)
            try:
                if exchange_name:
                    exchange = await self._exchange(channel, exchange_name, kind)
                else:
                    exchange = channel.default_exchange
                await exchange.publish(message, routing_key, mandatory=True, timeout=left)
                return
            except PublishError as exc:
                # No queue for it yet: a server may be starting; a reply's caller has gone.
                if not exchange_name or kind == ExchangeType.FANOUT or left <= delay:
                    raise errors.ServiceUnavailable(
                        f"no server on topic {routing_key or exchange_name!r}"
                    ) from exc
                LOG.warning("bus: no server for %s yet; retrying for %.0fs", routing_key, left)
            except DeliveryError:
                LOG.warning("bus: broker refused a message for %s; retrying", routing_key)
            except (*CONNECTION_EXCEPTIONS, TimeoutError) as exc:
                LOG.info("bus: resending a message for %s after %s", routing_key, exc)
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)


async def _ignore(message: AbstractIncomingMessage) -> None:
    """The listeners queue only counts consumers; nothing is ever sent to it."""


async def _ack(message: AbstractIncomingMessage) -> None:
    """Acknowledge `message` unless done already; on a link that is gone the broker gives it
    again to the next consumer (a copy this process had is dropped by `_accept`)."""
    if not message.processed:
        with contextlib.suppress(*CONNECTION_EXCEPTIONS):
            await message.ack()
