"""The bus: RPC between the units of a service, as oslo.messaging gives OpenStack.

Three verbs over named topics: `call` (a reply, with a timeout), `cast` (fire and forget to one
server) and `fanout` (to every server of a topic). A target is a topic, or `topic.server` to
reach one server. Endpoints are objects whose public async methods take the caller's context
(a dict) and JSON-serialisable keyword arguments. Every transport serialises messages, so no
unit may rely on sharing memory with another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from overcast.common.config import Settings


class Bus(Protocol):
    # Whether a message outlives the process that sent it and waits for a server that is down
    # (a broker's durable queues): recovery after a crash must leave such messages to arrive.
    keeps_messages: bool

    async def call(
        self, target: str, method: str, ctx: dict[str, Any], timeout: float = 60.0, **kwargs: Any
    ) -> Any:
        """Run `method` on one server of `target` and return its result, or raise its error."""
        ...

    async def cast(self, target: str, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        """Deliver to one server of `target` without waiting for the result."""
        ...

    async def fanout(self, topic: str, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        """Deliver to every server listening on `topic`. The listeners a process serves run
        one after another: a listener returns at once and starts longer work as a task."""
        ...

    def serve(self, topic: str, endpoint: object, server: str | None = None) -> None:
        """Register `endpoint` as a server of `topic` (named `server`, if given)."""
        ...

    async def start(self) -> None:
        """Connect; wait (logging each retry) while the transport is unreachable."""
        ...

    async def ready(self) -> None:
        """Return once every server registered so far receives messages."""
        ...

    async def drain(self) -> None:
        """Wait until every cast this process delivered has finished (orderly shutdown)."""
        ...

    async def close(self) -> None: ...


def connect(settings: Settings, name: str = "overcast") -> Bus:
    """The bus `settings.bus_url` chooses: RabbitMQ for amqp:// URLs, else in-process.
    Call `start()` on it in the event loop before sending."""
    url = settings.bus_url
    if not url:
        from overcast.common.bus.local import LocalBus

        return LocalBus()
    if not url.startswith(("amqp://", "amqps://")):
        raise ValueError(f"bus_url must be an amqp:// or amqps:// URL, not {url!r}")
    from overcast.common.bus.amqp import AmqpBus

    return AmqpBus(url, settings.bus, name)
