"""The RabbitMQ bus beyond the protocol: messages from other versions refused with a log line,
a fanout that waits for every process, an unreachable broker answered with 503, a broker
restart that loses no message it acknowledged, and a call whose server dies while handling it
answered by the next server when its method is redeliverable; a call to a server of the
calling process answered without the broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import pytest
import pytest_asyncio

from overcast.common import errors
from overcast.common.bus import envelope
from overcast.common.bus.amqp import AmqpBus
from overcast.common.bus.endpoints import redeliverable
from overcast.common.config import BusSettings
from tests.helpers import rabbit

pytestmark = pytest.mark.xdist_group("bus-amqp")


class Worker:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.seen: list[Any] = []

    async def work(self, ctx: dict[str, Any], n: int) -> int:
        await asyncio.sleep(self.delay)
        self.seen.append(n)
        return n * 2


@contextlib.asynccontextmanager
async def _two_buses(url: str) -> AsyncIterator[list[AmqpBus]]:
    """Two started buses on `url`, as two processes."""
    made = [AmqpBus(url, BusSettings(publish_timeout=30.0), f"p{i}") for i in range(2)]
    for bus in made:
        await bus.start()
    try:
        yield made
    finally:
        for bus in made:
            await bus.close()


@pytest_asyncio.fixture(loop_scope="function")
async def buses(amqp_url: str) -> AsyncIterator[list[AmqpBus]]:
    async with _two_buses(amqp_url) as made:
        yield made


async def _raw(url: str, body: bytes, routing_key: str) -> Any:
    """Send a hand-made message as some other peer would, and return its reply."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True)
        exchange = await channel.get_exchange("overcast.versioned")
        await exchange.publish(
            aio_pika.Message(body, reply_to=replies.name, correlation_id="c1"), routing_key
        )
        async with replies.iterator(timeout=5) as messages:
            async for message in messages:
                await message.ack()
                return message.body
    finally:
        await connection.close()


async def test_messages_of_another_version_are_refused_with_a_log_line(
    buses: list[AmqpBus], amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker()
    buses[0].serve("versioned", worker)
    await buses[0].ready()
    caplog.set_level(logging.WARNING)
    newer = b'{"v": "2.0", "method": "work", "ctx": {}, "args": {"n": 1}}'
    with pytest.raises(envelope.Refused, match="version 2.0"):
        envelope.open_reply(await _raw(amqp_url, newer, "versioned"))
    with pytest.raises(envelope.Refused, match="not a JSON"):
        envelope.open_reply(await _raw(amqp_url, b"\xff garbage", "versioned"))
    # An older minor version, with a field this version does not know, is understood.
    older = b'{"v": "1.0", "method": "work", "ctx": {}, "args": {"n": 4}, "extra": 1}'
    assert envelope.open_reply(await _raw(amqp_url, older, "versioned")) == 8
    assert "refused a message on versioned" in caplog.text
    assert await buses[1].call("versioned", "work", {}, n=5) == 10


async def test_fanout_returns_after_every_process_handled_it(buses: list[AmqpBus]) -> None:
    slow, fast = Worker(delay=0.3), Worker()
    buses[0].serve("flush", fast)
    buses[1].serve("flush", slow)
    for bus in buses:
        await bus.ready()
    await buses[0].fanout("flush", "work", {}, n=1)
    assert slow.seen == [1] and fast.seen == [1]


async def test_unreachable_broker_waits_with_log_lines_and_sends_answer_503(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    bus = AmqpBus("amqp://guest:secret@127.0.0.1:1/", BusSettings(publish_timeout=0.3))
    starting = asyncio.ensure_future(bus.start())
    try:
        await asyncio.sleep(0.5)
        assert not starting.done()
        assert "bus: cannot reach amqp://guest:***@127.0.0.1:1/" in caplog.text
        assert "secret" not in caplog.text
        began = time.monotonic()
        with pytest.raises(errors.ServiceUnavailable):
            await bus.cast("anything", "work", {}, n=1)
        assert time.monotonic() - began < 1.0
    finally:
        starting.cancel()
        await bus.close()


@pytest.fixture(scope="module")
def restartable() -> Iterator[tuple[rabbit.Broker, str]]:
    """A RabbitMQ of this module's own, which the test restarts, and a virtual host on it."""
    reason = rabbit.unavailable()
    if reason:
        pytest.skip(reason)
    with rabbit.private() as broker, broker.vhost() as url:
        yield broker, url


async def test_broker_restart_loses_no_acknowledged_message(
    restartable: tuple[rabbit.Broker, str],
) -> None:
    broker, amqp_url = restartable
    async with _two_buses(amqp_url) as buses:
        # The server's process goes away: what is sent to it waits in its durable queue.
        buses[0].serve("durable", Worker(), server="w")
        await buses[0].ready()
        await buses[0].close()
        for n in range(5):
            await buses[1].cast("durable.w", "work", {}, n=n)
        restarting = asyncio.get_running_loop().run_in_executor(None, broker.restart, 1.0)
        await asyncio.sleep(0.3)
        # Sent while the broker is away: each waits for the reconnection, then is confirmed.
        casts = [buses[1].cast("durable.w", "work", {}, n=n) for n in range(5, 10)]
        calls = [buses[1].call("durable.w", "work", {}, timeout=30, n=n) for n in range(10, 12)]
        sending = asyncio.gather(*casts, *calls)
        await restarting
        # The server's process comes back after the broker did.
        worker = Worker()
        again = AmqpBus(amqp_url, BusSettings(), "again")
        again.serve("durable", worker, server="w")
        await again.start()
        try:
            results = await sending
            assert results[-2:] == [20, 22]
            deadline = time.monotonic() + 20
            while sorted(worker.seen) != list(range(12)):
                assert time.monotonic() < deadline, sorted(worker.seen)
                await asyncio.sleep(0.05)
            # And the bus works as before.
            assert await buses[1].call("durable.w", "work", {}, n=20) == 40
        finally:
            await again.close()


class Stalls:
    """A server that takes a call and never answers it, as a process killed while handling."""

    def __init__(self) -> None:
        self.took = asyncio.Event()

    async def _stall(self) -> int:
        self.took.set()
        await asyncio.Event().wait()
        return 0

    @redeliverable
    async def again(self, ctx: dict[str, Any], n: int) -> int:
        return await self._stall()

    async def once(self, ctx: dict[str, Any], n: int) -> int:
        return await self._stall()


class Answers:
    @redeliverable
    async def again(self, ctx: dict[str, Any], n: int) -> int:
        return n * 2

    async def once(self, ctx: dict[str, Any], n: int) -> int:
        return n * 3


@pytest.mark.parametrize("method,answer", [("again", 14), ("once", None)])
async def test_a_call_cut_short_goes_to_the_next_server_only_if_redeliverable(
    buses: list[AmqpBus], amqp_url: str, method: str, answer: int | None
) -> None:
    dying, stalls = buses[0], Stalls()
    dying.serve(f"cut-{method}", stalls)
    await dying.ready()
    calling = asyncio.ensure_future(buses[1].call(f"cut-{method}", method, {}, timeout=4, n=7))
    await asyncio.wait_for(stalls.took.wait(), 5)
    await dying.close()  # its handler ends unanswered and its connection goes
    following = AmqpBus(amqp_url, BusSettings(), "following")
    following.serve(f"cut-{method}", Answers())
    await following.start()
    try:
        if answer is None:  # acknowledged on receipt: lost with the server (at most once)
            with pytest.raises(errors.Timeout):
                await calling
        else:
            assert await calling == answer
    finally:
        await following.close()


class Keeps:
    """A server that changes what it is handed and fails as asked."""

    async def grow(self, ctx: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        spec["hosts"].append("chosen")
        return spec

    async def refuse(self, ctx: dict[str, Any], n: int) -> int:
        raise errors.Conflict(f"no room for {n}")

    async def crash(self, ctx: dict[str, Any], n: int) -> int:
        raise KeyError(n)


async def test_a_call_to_a_server_of_this_process_is_answered_here() -> None:
    # No broker at all: the call never leaves the process, and behaves as if it had crossed.
    bus = AmqpBus("amqp://guest:guest@127.0.0.1:1/", BusSettings(publish_timeout=0.3))
    bus.serve("nearby", Keeps())
    try:
        spec: dict[str, Any] = {"hosts": []}
        assert await bus.call("nearby", "grow", {}, spec=spec) == {"hosts": ["chosen"]}
        assert spec == {"hosts": []}  # the server had a copy, as over the wire
        with pytest.raises(errors.Conflict, match="no room for 3"):
            await bus.call("nearby", "refuse", {}, n=3)
        with pytest.raises(errors.RemoteError, match="KeyError"):
            await bus.call("nearby", "crash", {}, n=3)
        with pytest.raises(errors.ServiceUnavailable):  # anything else still needs the broker
            await bus.call("elsewhere", "grow", {}, timeout=1, spec=spec)
    finally:
        await bus.close()
