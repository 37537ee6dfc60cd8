"""The agent's actions on one running guest: reboot, stop/start, pause, suspend, crash dump and
console output. Each is one driver call wrapped in `Host.run` (event, states, fault).

Served through `agent.manager.ComputeHost`'s endpoint.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from overcast.compute import states
from overcast.compute.agent.host import Host


class Actions:
    def __init__(self, h: Host) -> None:
        self.h = h

    async def reboot_instance(
        self, ctx: dict[str, Any], instance_uuid: str, reboot_type: str
    ) -> None:
        hard = reboot_type.upper() == "HARD"
        expected = (
            [states.REBOOTING_HARD, states.REBOOT_PENDING_HARD]
            if hard
            else [states.REBOOTING, states.REBOOT_PENDING]
        )
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_reboot_instance",
            lambda: self.h.driver.reboot(instance_uuid, hard),
            {"vm_state": states.ACTIVE},
            expected,
        )

    async def stop_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_stop_instance",
            lambda: self.h.driver.power_off(
                instance_uuid, self.h.settings.compute.shutdown_timeout
            ),
            {"vm_state": states.STOPPED},
            states.POWERING_OFF,
        )

    async def start_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_start_instance",
            lambda: self.h.driver.power_on(instance_uuid),
            {"vm_state": states.ACTIVE},
            states.POWERING_ON,
        )

    async def pause_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_pause_instance",
            lambda: self.h.driver.pause(instance_uuid),
            {"vm_state": states.PAUSED},
            states.PAUSING,
        )

    async def unpause_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_unpause_instance",
            lambda: self.h.driver.unpause(instance_uuid),
            {"vm_state": states.ACTIVE},
            states.UNPAUSING,
        )

    async def suspend_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_suspend_instance",
            lambda: self.h.driver.suspend(instance_uuid),
            {"vm_state": states.SUSPENDED},
            states.SUSPENDING,
        )

    async def resume_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_resume_instance",
            lambda: self.h.driver.resume(instance_uuid),
            {"vm_state": states.ACTIVE},
            states.RESUMING,
        )

    async def trigger_crash_dump(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_trigger_crash_dump",
            lambda: self.h.driver.trigger_crash_dump(instance_uuid),
            {},
            None,
        )

    async def get_console_output(
        self, ctx: dict[str, Any], instance_uuid: str, length: int | None = None
    ) -> str:
        text: str = await self.h.driver.get_console_output(instance_uuid)
        if length is not None:
            # Nova's tail: the last `length` pieces between newlines (a final newline leaves
            # an empty last piece, which counts).
            text = "\n".join(text.split("\n")[-length:]) if length > 0 else ""
        return text

    async def get_console(
        self, ctx: dict[str, Any], instance_uuid: str, protocol: str
    ) -> dict[str, Any]:
        """Where the console proxy reaches the guest's `protocol` console ("vnc", "serial")."""
        driver = self.h.driver
        get = driver.get_vnc_console if protocol == "vnc" else driver.get_serial_console
        return dataclasses.asdict(await get(instance_uuid))

    async def get_diagnostics(self, ctx: dict[str, Any], instance_uuid: str) -> dict[str, Any]:
        return await self.h.driver.get_diagnostics(instance_uuid)
