"""Every bus (in-process and RabbitMQ): call with reply and timeout, errors that travel, cast
to one server, fanout to every server, arguments refused before a method runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from overcast.common import errors
from overcast.common.bus.endpoints import Endpoint
from tests.common.conftest import MakeBus

pytestmark = pytest.mark.xdist_group("bus")


class Echo:
    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[Any] = []

    async def echo(self, ctx: dict[str, Any], value: Any) -> Any:
        self.seen.append(value)
        return {"server": self.name, "value": value, "ctx": ctx}

    async def slow(self, ctx: dict[str, Any]) -> None:
        await asyncio.sleep(5)

    async def fail(self, ctx: dict[str, Any]) -> None:
        raise errors.Conflict("busy")

    async def crash(self, ctx: dict[str, Any]) -> None:
        raise KeyError("oops")


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_call_reaches_named_server_and_round_trips_json(make_bus: MakeBus) -> None:
    bus = await make_bus()
    a, b = Echo("a"), Echo("b")
    bus.serve("compute", a, server="a")
    bus.serve("compute", b, server="b")
    await bus.ready()
    result = await bus.call("compute.b", "echo", {"user": "u"}, value=(1, 2))
    assert result == {"server": "b", "value": [1, 2], "ctx": {"user": "u"}}
    assert a.seen == []


async def test_call_times_out_and_errors_propagate(make_bus: MakeBus) -> None:
    bus = await make_bus()
    bus.serve("t", Echo("x"))
    await bus.ready()
    with pytest.raises(errors.Timeout):
        await bus.call("t", "slow", {}, timeout=0.2)
    with pytest.raises(errors.Conflict, match="busy"):
        await bus.call("t", "fail", {})
    with pytest.raises(errors.BadRequest):
        await bus.call("t", "_private", {})
    with pytest.raises(errors.BadRequest, match="refused its arguments"):
        await bus.call("t", "echo", {}, value=1, added_by_a_newer_peer=2)
    with pytest.raises(errors.BadRequest, match="refused its arguments"):
        await bus.call("t", "echo", {})
    with pytest.raises(errors.ServiceUnavailable):
        await bus.call("nobody", "echo", {}, value=1)
    # The server survives all of that.
    assert (await bus.call("t", "echo", {}, value=3))["value"] == 3
    # Accepted arguments are remembered by their names: other names are still refused.
    with pytest.raises(errors.BadRequest, match="refused its arguments"):
        await bus.call("t", "echo", {}, value=1, added_by_a_newer_peer=2)


async def test_unexpected_errors_travel_as_remote_errors(make_bus: MakeBus) -> None:
    bus = await make_bus()
    bus.serve("u", Echo("x"))
    await bus.ready()
    with pytest.raises(errors.RemoteError, match="KeyError: 'oops'"):
        await bus.call("u", "crash", {})


async def test_cast_reaches_one_server_and_fanout_every_server(make_bus: MakeBus) -> None:
    buses = [await make_bus(), await make_bus()]
    servers = [Echo(str(i)) for i in range(3)]
    for i, s in enumerate(servers):
        buses[i % 2].serve("topic", s, server=s.name)
    for bus in buses:
        await bus.ready()
    # A fanout returns once every listener (in every process) has handled it.
    await buses[0].fanout("topic", "echo", {}, value="all")
    assert all(s.seen == ["all"] for s in servers)
    await buses[1].cast("topic", "echo", {}, value="one")
    await buses[0].cast("topic.2", "echo", {}, value="two")
    await eventually(lambda: sum(s.seen.count("one") for s in servers) == 1)
    await eventually(lambda: servers[2].seen[-1:] == ["two"])
    await asyncio.sleep(0.1)
    assert sum(s.seen.count("one") for s in servers) == 1
    await buses[0].fanout("silent-topic", "echo", {}, value="nobody listens")


class _Power:
    async def start(self, ctx: dict[str, Any]) -> str:
        return "started"

    async def _secret(self, ctx: dict[str, Any]) -> str:
        return "no"

    def helper(self) -> str:
        return "not a bus method"


class _Moves:
    async def move(self, ctx: dict[str, Any], to: str) -> str:
        return f"moved to {to}"


async def test_an_endpoint_made_of_pieces_serves_their_public_coroutines(
    make_bus: MakeBus,
) -> None:
    bus = await make_bus()
    endpoint = Endpoint(_Power(), _Moves())
    assert endpoint.names() == ["move", "start"]
    bus.serve("role", endpoint)
    await bus.ready()
    assert await bus.call("role", "start", {}) == "started"
    assert await bus.call("role", "move", {}, to="host2") == "moved to host2"
    for hidden in ("_secret", "helper", "nothing"):
        with pytest.raises(errors.BadRequest):
            await bus.call("role", hidden, {})
    with pytest.raises(errors.BadRequest, match="refused its arguments"):
        await bus.call("role", "move", {}, where="host2")


def test_two_pieces_may_not_serve_one_name() -> None:
    with pytest.raises(ValueError, match="start"):
        Endpoint(_Power(), _Power())
