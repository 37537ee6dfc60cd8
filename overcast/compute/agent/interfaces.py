"""Interface attach and detach on this host (Nova's `attach_interface`/`detach_interface`):
a port is made (or taken) and bound as at boot, plugged into the guest by the driver, and
the instance's network info and addresses are rewritten through the conductor.

Served through `agent.manager.ComputeHost`'s endpoint as bus calls from the API."""

from __future__ import annotations

from typing import Any

from overcast.common import errors
from overcast.compute import networking
from overcast.compute.agent.host import Host


def _addresses(network_info: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for vif in network_info:
        found.setdefault(vif.get("network_name") or vif["network_id"], []).extend(
            {
                "version": 6 if ":" in ip["ip_address"] else 4,
                "addr": ip["ip_address"],
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": vif.get("mac"),
            }
            for ip in vif.get("fixed_ips", [])
        )
    return found


class Interfaces:
    def __init__(self, h: Host) -> None:
        self.h = h

    async def attach_interface(
        self, ctx: dict[str, Any], instance_uuid: str, request: dict[str, Any]
    ) -> dict[str, Any]:
        """Bind and plug one port; its network info (the API's interfaceAttachment)."""
        h = self.h
        instance = await h.instance(ctx, instance_uuid)
        one = {**instance, "requested_networks": [request]}
        compute = h.settings.compute
        added, _ = await networking.allocate(
            h.remote,
            ctx,
            one,
            h.host,
            h.events,
            compute.vif_plugging_timeout,
            compute.vif_plugging_is_fatal,
        )
        try:
            await h.driver.attach_interface(instance_uuid, added[0])
        except errors.OvercastError:
            await networking.deallocate(h.remote, ctx, added)
            raise
        info = [*(instance.get("network_info") or []), *added]
        await h.update(ctx, instance_uuid, {"network_info": info, "addresses": _addresses(info)})
        return added[0]

    async def detach_interface(self, ctx: dict[str, Any], instance_uuid: str, port_id: str) -> None:
        h = self.h
        instance = await h.instance(ctx, instance_uuid)
        info = instance.get("network_info") or []
        gone = [v for v in info if v["port_id"] == port_id]
        if not gone:
            raise errors.NotFound(f"Port {port_id} is not attached")
        await h.driver.detach_interface(instance_uuid, port_id)
        await networking.deallocate(h.remote, ctx, gone)
        kept = [v for v in info if v["port_id"] != port_id]
        await h.update(ctx, instance_uuid, {"network_info": kept, "addresses": _addresses(kept)})
