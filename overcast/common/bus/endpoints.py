"""One bus endpoint made of several small objects.

A role's bus methods live in a few plain classes, each handed what it needs; `combine` gathers
their public coroutine methods into the one object `Bus.serve` takes (`Endpoint(a, b)`). Used by the compute
agent and conductor (and any role split the same way). `invoke` runs a message on an endpoint.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from overcast.common.bus import envelope
from overcast.common.trace import propagate

_SIGNATURES: dict[Any, inspect.Signature] = {}  # by function: bound methods differ per call

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
    target = None if method.startswith("_") else getattr(endpoint, method, None)
    if target is None or not inspect.iscoroutinefunction(target):
        raise envelope.Refused(f"unknown RPC method {method!r}")
    function = getattr(target, "__func__", target)
    signature = _SIGNATURES.get(function)
    if signature is None:
        signature = _SIGNATURES[function] = inspect.signature(target)
    try:
        signature.bind(ctx, **args)
    except TypeError as exc:
        raise envelope.Refused(f"RPC method {method!r} refused its arguments: {exc}") from exc
    service = topic.split(".")[0].split("-")[0] or "bus"
    with propagate.handled(trace, method, service, target=topic):
        return await target(ctx, **args)
