"""Building and deleting guests on this host: the agent's `build_and_run_instance` and
`terminate_instance`, with their ports and volumes.

Served through `agent.manager.ComputeHost`'s endpoint; `reconcile` finishes an interrupted
delete through `Builds.terminate_instance`.
"""

from __future__ import annotations

from typing import Any

from overcast.common import log, trace
from overcast.compute import networking, states, teardown, volumes
from overcast.compute.agent.events import Abandoned
from overcast.compute.agent.host import Host, failed_event, spec_for
from overcast.compute.conductor import rpc

LOG = log.get(__name__)


class _Deleted(Exception):
    """The instance was deleted while it was being built."""


class Builds:
    def __init__(self, h: Host) -> None:
        self.h = h

    async def build_and_run_instance(
        self,
        ctx: dict[str, Any],
        instance_uuid: str,
        spec: dict[str, Any],
        node: str,
        instance: dict[str, Any] | None = None,
    ) -> None:
        """Build the instance the conductor placed here; `instance` is its record as the
        conductor started the build on this host (an older conductor sends none: the agent
        starts the build itself)."""
        with trace.span("compute agent", host=self.h.host, node=node):
            with self.h.events.building(instance_uuid):
                await self._build(ctx, instance_uuid, spec, node, instance)

    async def _build(
        self,
        ctx: dict[str, Any],
        instance_uuid: str,
        spec: dict[str, Any],
        node: str,
        instance: dict[str, Any] | None,
    ) -> None:
        h, uuid, event = self.h, instance_uuid, rpc.AGENT_BUILD_EVENT
        wants_network = h.remote.has("network") and spec.get("networks") != "none"
        wants_volumes = bool(spec.get("uses_volumes"))
        if instance is not None:
            first = instance["task_state"]  # the conductor's start
        else:
            first = (
                states.NETWORKING
                if wants_network
                else states.BLOCK_DEVICE_MAPPING
                if wants_volumes
                else states.SPAWNING
            )
            instance = await h.conductor.call(
                "start_build", ctx, uuid=uuid, event=event, host=h.host, task_state=first
            )
        if instance is None:
            return  # deleted before it got here; the delete released its claim
        network_info: list[dict[str, Any]] = []
        attached: list[dict[str, Any]] = []
        try:
            with trace.span("image fetched", image=instance.get("image_ref")):
                image = await h.fetch_image(ctx, instance.get("image_ref"))
            with trace.span("ports created and bound") if wants_network else trace.NOTHING:
                network_info, addresses = await networking.allocate(
                    h.remote,
                    ctx,
                    instance,
                    h.host,
                    h.events,
                    h.settings.compute.vif_plugging_timeout,
                    h.settings.compute.vif_plugging_is_fatal,
                )
                trace.note(ports=len(network_info))
            with trace.span("volumes attached") if wants_volumes else trace.NOTHING:
                attached = await volumes.attach_all(h.remote, ctx, instance, h.host)
            instance.update(network_info=network_info, attachments=attached)
            if first != states.SPAWNING and not await h.update(
                ctx,
                uuid,
                {
                    "task_state": states.SPAWNING,
                    "network_info": network_info,
                    "addresses": addresses,
                    "attachments": attached,
                },
                first,  # a delete (or this host's restart) since the start: no spawn
            ):
                raise _Deleted()
            with trace.span("hypervisor defined and started"):
                await h.driver.spawn(spec_for(instance, image))
        except Exception as exc:
            await self._undo(ctx, uuid, network_info, attached)
            if isinstance(exc, (_Deleted, Abandoned)):
                return
            trace.note(error=trace.reason(exc))
            LOG.info("build of %s failed on %s: %s", uuid, h.host, exc)
            await h.conductor.call(
                "event_finish", ctx, uuid=uuid, **failed_event(event, exc, h.host)
            )
            reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            await h.conductor.call(
                "build_failed", ctx, uuid=uuid, spec=spec, host=h.host, node=node, reason=reason
            )
            return
        done = await h.update(
            ctx,
            uuid,
            {
                "vm_state": states.ACTIVE,
                "task_state": None,
                "power_state": states.RUNNING,
                "launched_at": "now",
            },
            states.SPAWNING,
            event={"event": event, "host": h.host},
        )
        if not done:  # deleted while spawning: the delete went to us, clean up anyway
            await self._undo(ctx, uuid, network_info, attached)
        else:
            trace.event("ACTIVE")

    async def _undo(
        self,
        ctx: dict[str, Any],
        uuid: str,
        network_info: list[dict[str, Any]],
        attached: list[dict[str, Any]],
    ) -> None:
        await self.h.driver.destroy(uuid)
        await networking.deallocate(self.h.remote, ctx, network_info)
        await volumes.detach_all(self.h.remote, ctx, attached)

    async def terminate_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        h, uuid = self.h, instance_uuid
        h.events.abandon(uuid)
        await h.conductor.call(
            "event_start", ctx, uuid=uuid, event="compute_terminate_instance", host=h.host
        )
        instance = await h.conductor.call("get_instance", ctx, uuid=uuid)
        await h.driver.destroy(uuid)
        if instance is not None:
            await teardown.release(
                h.remote,
                ctx,
                instance.get("network_info") or [],
                instance.get("attachments") or [],
                instance.get("system_metadata") or {},
            )
        await h.conductor.call("instance_destroyed", ctx, uuid=uuid)
