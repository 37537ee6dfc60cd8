"""The in-process bus: call with reply and timeout, cast, fanout, JSON round trip."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from overcast.common import errors
from overcast.common.bus.endpoints import Endpoint
from overcast.common.bus.local import LocalBus


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


async def test_call_reaches_named_server_and_round_trips_json() -> None:
    bus = LocalBus()
    a, b = Echo("a"), Echo("b")
    bus.serve("compute", a, server="a")
    bus.serve("compute", b, server="b")
    result = await bus.call("compute.b", "echo", {"user": "u"}, value=(1, 2))
    assert result == {"server": "b", "value": [1, 2], "ctx": {"user": "u"}}
    assert a.seen == []


async def test_call_times_out_and_errors_propagate() -> None:
    bus = LocalBus()
    bus.serve("t", Echo("x"))
    with pytest.raises(errors.Timeout):
        await bus.call("t", "slow", {}, timeout=0.05)
    with pytest.raises(errors.Conflict):
        await bus.call("t", "fail", {})
    with pytest.raises(errors.BadRequest):
        await bus.call("t", "_private", {})
    with pytest.raises(errors.ServiceUnavailable):
        await bus.call("nobody", "echo", {}, value=1)


async def test_cast_and_fanout() -> None:
    bus = LocalBus()
    servers = [Echo(str(i)) for i in range(3)]
    for s in servers:
        bus.serve("topic", s, server=s.name)
    await bus.fanout("topic", "echo", {}, value="all")
    assert all(s.seen == ["all"] for s in servers)
    await bus.cast("topic", "echo", {}, value="one")
    await bus.drain()
    assert sum(s.seen.count("one") for s in servers) == 1
    await bus.close()


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


async def test_an_endpoint_made_of_pieces_serves_their_public_coroutines() -> None:
    bus = LocalBus()
    endpoint = Endpoint(_Power(), _Moves())
    assert endpoint.names() == ["move", "start"]
    bus.serve("role", endpoint)
    assert await bus.call("role", "start", {}) == "started"
    assert await bus.call("role", "move", {}, to="host2") == "moved to host2"
    for hidden in ("_secret", "helper", "nothing"):
        with pytest.raises(errors.BadRequest):
            await bus.call("role", hidden, {})


def test_two_pieces_may_not_serve_one_name() -> None:
    with pytest.raises(ValueError, match="start"):
        Endpoint(_Power(), _Power())
