"""One bus endpoint made of several small objects.

A role's bus methods live in a few plain classes, each handed what it needs; `combine` gathers
their public coroutine methods into the one object `Bus.serve` takes (`Endpoint(a, b)`). Used by the compute
agent and conductor (and any role split the same way). `invoke` runs a message on an endpoint.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from overcast.common.bus import envelope
from overcast.common.trace import propagate

# (function, argument names) of calls found acceptable: whether a call binds depends on its
# names alone, and binding a signature costs more than a small handler does (a fanout to the
# in-process agents of 200 fake hosts checks 200 of them). By function: bound methods differ
# per call. Cleared when full, so no sender can grow it without bound.
_ACCEPTED: set[tuple[Any, tuple[str, ...]]] = set()
_ACCEPTED_MAX = 4096

F = TypeVar("F", bound=Callable[..., Any])


def redeliverable(method: F) -> F:
    """Mark a bus method that gives the same answer when a call to it runs again after a run
    that was cut short or whose answer was lost. A broker acknowledges a call to such a method
    only once it is answered, so a call whose server dies while handling it goes to the next
    server instead of being lost (every other message is acknowledged on receipt, at most once,
    as oslo.messaging does)."""
    method.redeliverable = True  # type: ignore[attr-defined]
    return method


def redelivers(endpoint: object, method: str) -> bool:
    """Whether a call of `method` on `endpoint` is marked `redeliverable`."""
    return bool(getattr(getattr(endpoint, method, None), "redeliverable", False))


class Endpoint:
    """The public async methods of `parts`, under their own names; a name may appear once."""

    def __init__(self, *parts: object) -> None:
        self._methods: dict[str, Any] = {}
        for part in parts:
            for name, method in inspect.getmembers(part, inspect.iscoroutinefunction):
                if name.startswith("_"):
                    continue
                if name in self._methods:
                    raise ValueError(f"two bus methods are named {name!r}")
                self._methods[name] = method

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_methods"][name]
        except KeyError:
            raise AttributeError(name) from None

    def names(self) -> list[str]:
        """The bus methods served (for tests and logs)."""
        return sorted(self._methods)


async def invoke(
    endpoint: object,
    method: str,
    ctx: dict[str, Any],
    args: dict[str, Any],
    trace: Any = None,
    topic: str = "",
) -> Any:
    """Run one bus message on `endpoint`, the same way for every transport: in an `rpc` span
    continuing the sender's trace (`trace`, the envelope's field), if it sent one.

    A private, unknown or non-coroutine method, or arguments the method does not take (a newer
    peer's extra field, an older peer's missing one), is refused (`envelope.Refused`, a BadRequest) before the
    method runs. Called by `local.LocalBus` and `amqp.AmqpBus`.
    """
    target: Any = None if method.startswith("_") else getattr(endpoint, method, None)
    key = (getattr(target, "__func__", target), tuple(args))
    if key not in _ACCEPTED:
        _check(target, method, args)
        if len(_ACCEPTED) >= _ACCEPTED_MAX:
            _ACCEPTED.clear()
        _ACCEPTED.add(key)
    service = topic.split(".")[0].split("-")[0] or "bus"
    with propagate.handled(trace, method, service, target=topic):
        return await target(ctx, **args)


async def invoke_each(
    targets: Sequence[object],
    method: str,
    ctx: dict[str, Any],
    args: dict[str, Any],
    trace: Any = None,
    topic: str = "",
) -> list[Any]:
    """One message on every target (a fanout's listeners in this process), one after
    another; each result, or the exception it raised, in order. They share one decoded
    message, as they would have it from a network transport.

    In turn rather than as a task each: a listener returns at once (longer work goes in a
    task of its own), and a task per listener cost more than the listeners themselves when a
    process serves many (the network agents of 200 fake hosts, told of every port's groups).
    """
    results: list[Any] = []
    for target in targets:
        try:
            results.append(await invoke(target, method, ctx, args, trace, topic))
        except Exception as exc:
            results.append(exc)
    return results


def _check(target: Any, method: str, args: dict[str, Any]) -> None:
    """Refuse a call `target` cannot take: not a coroutine method, or arguments it lacks."""
    if target is None or not inspect.iscoroutinefunction(target):
        raise envelope.Refused(f"unknown RPC method {method!r}")
    try:
        inspect.signature(target).bind(None, **args)
    except TypeError as exc:
        raise envelope.Refused(f"RPC method {method!r} refused its arguments: {exc}") from exc
