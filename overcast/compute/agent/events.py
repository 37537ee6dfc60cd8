"""Events a compute host waits for from other services (Nova's `InstanceEvents`): a build
expects `network-vif-plugged` for each of its ports *before* it binds them, so an event that
arrives at once is not lost; the network service's notification reaches the host through the
API (`os-server-external-events`) and the bus method `external_instance_event`."""

from __future__ import annotations

import asyncio
from typing import Any

from overcast.common import errors


class InstanceEvents:
    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str, str], asyncio.Future[str]] = {}

    def expect(self, instance_uuid: str, name: str, tags: list[str]) -> list[tuple[str, str, str]]:
        """Start listening for `name` with each tag; the keys to `wait` on."""
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

    def forget(self, keys: list[tuple[str, str, str]]) -> None:
        for key in keys:
            found = self._waiting.pop(key, None)
            if found is not None and not found.done():
                found.cancel()


class Events:
    """The bus side: `compute.<host>`'s `external_instance_event`."""

    def __init__(self, events: InstanceEvents) -> None:
        self.events = events

    async def external_instance_event(
        self, _ctx: dict[str, Any], instance_uuid: str, name: str, tag: str, status: str
    ) -> bool:
        """Deliver one event; whether anything was waiting for it."""
        return self.events.deliver(instance_uuid, name, tag, status)
