"""Events a compute host waits for from other services (Nova's `InstanceEvents`): a build
expects `network-vif-plugged` for each of its ports *before* it binds them, so an event that
arrives at once is not lost; the network service's notification reaches the host through the
API (`os-server-external-events`) and the bus method `external_instance_event`, which also
acts on the events that ask the host to do something (`volume-extended`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from overcast.common import errors


class Abandoned(errors.Conflict):
    """The instance was deleted while something waited for its events."""


class InstanceEvents:
    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str, str], asyncio.Future[str]] = {}
        self._building: set[str] = set()
        self._abandoned: set[str] = set()

    @contextmanager
    def building(self, instance_uuid: str) -> Iterator[None]:
        """While a build of the instance runs here: a delete that comes before the build
        listens for its events is remembered, so that `expect` refuses at once."""
        self._building.add(instance_uuid)
        try:
            yield
        finally:
            self._building.discard(instance_uuid)
            self._abandoned.discard(instance_uuid)

    def expect(self, instance_uuid: str, name: str, tags: list[str]) -> list[tuple[str, str, str]]:
        """Start listening for `name` with each tag; the keys to `wait` on (Abandoned when
        the instance was deleted while its build got here)."""
        if instance_uuid in self._abandoned:
            raise Abandoned(f"Instance {instance_uuid} was deleted.")
        loop = asyncio.get_running_loop()
        keys = [(instance_uuid, name, tag) for tag in tags]
        for key in keys:
            self._waiting.setdefault(key, loop.create_future())
        return keys

    async def wait(self, keys: list[tuple[str, str, str]], timeout: float) -> None:
        """Until every event came (errors.Timeout after `timeout` s; errors.Conflict when
        one came with status `failed`). Stops listening for them either way."""
        try:
            futures = [self._waiting[k] for k in keys]
            done = await asyncio.wait_for(asyncio.gather(*futures), timeout)
            failed = [k[2] for k, status in zip(keys, done, strict=True) if status == "failed"]
            if failed:
                raise errors.Conflict(f"{keys[0][1]} failed for {', '.join(failed)}")
        except TimeoutError as exc:
            missing = [k[2] for k in keys if not self._waiting[k].done()]
            raise errors.Timeout(f"{keys[0][1]} did not arrive for {', '.join(missing)}") from exc
        finally:
            self.forget(keys)

    def deliver(self, instance_uuid: str, name: str, tag: str, status: str) -> bool:
        """Hand an event to its waiter; whether anything was waiting for it."""
        found = self._waiting.get((instance_uuid, name, tag))
        if found is None or found.done():
            return False
        found.set_result(status)
        return True

    def abandon(self, instance_uuid: str) -> None:
        """The instance is being deleted: whoever waits for its events stops now (a build
        waiting for vif-plugged gives its ports back at once, as Nova's terminate does)."""
        if instance_uuid in self._building:
            self._abandoned.add(instance_uuid)
        for key, found in list(self._waiting.items()):
            if key[0] == instance_uuid and not found.done():
                found.set_exception(Abandoned(f"Instance {instance_uuid} was deleted."))

    def forget(self, keys: list[tuple[str, str, str]]) -> None:
        for key in keys:
            found = self._waiting.pop(key, None)
            if found is not None and not found.done():
                found.cancel()


Handler = Callable[[dict[str, Any], str, str], Awaitable[None]]


class Events:
    """The bus side: `compute.<host>`'s `external_instance_event`. An event with a handler
    (`volume-extended`: resize the guest's disk) is acted on; any other is delivered to
    whoever waits for it."""

    def __init__(self, events: InstanceEvents, handlers: dict[str, Handler]) -> None:
        self.events = events
        self.handlers = handlers

    async def external_instance_event(
        self, ctx: dict[str, Any], instance_uuid: str, name: str, tag: str, status: str
    ) -> bool:
        """Handle or deliver one event; whether anything took it."""
        handler = self.handlers.get(name)
        if handler is not None and status == "completed":
            await handler(ctx, instance_uuid, tag)
            return True
        return self.events.deliver(instance_uuid, name, tag, status)
