"""Buses to test: the in-process bus, and the AMQP bus on a private RabbitMQ virtual host.

`make_bus()` returns a started bus; for the AMQP kind each call is another "process" (its own
connection, reply queue and fanout queues) on the same virtual host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio

from overcast.common.bus import Bus
from overcast.common.bus.amqp import AmqpBus
from overcast.common.bus.local import LocalBus
from overcast.common.config import BusSettings
from tests.helpers import rabbit

MakeBus = Callable[..., Awaitable[Any]]


@pytest.fixture(scope="module")
def amqp_url() -> Iterator[str]:
    reason = rabbit.unavailable()
    if reason:
        pytest.skip(reason)
    with rabbit.vhost() as url:
        yield url


@pytest_asyncio.fixture(params=["local", "amqp"], loop_scope="function")
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[MakeBus]:
    made: list[Bus] = []
    shared = LocalBus()

    async def make(**settings: Any) -> Bus:
        if request.param == "local":
            return shared
        url = request.getfixturevalue("amqp_url")
        bus = AmqpBus(url, BusSettings(**{"publish_timeout": 1.0, **settings}), "test")
        await bus.start()
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.close()
    await shared.close()
