"""One bus endpoint made of several small objects.

A role's bus methods live in a few plain classes, each handed what it needs; `combine` gathers
their public coroutine methods into the one object `Bus.serve` takes (`Endpoint(a, b)`). Used by the compute
agent and conductor (and any role split the same way). `invoke` runs a message on an endpoint.
"""

from __future__ import annotations

import inspect
from typing import Any

from overcast.common.bus import envelope
from overcast.common.trace import propagate

_SIGNATURES: dict[Any, inspect.Signature] = {}  # by function: bound methods differ per call


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
