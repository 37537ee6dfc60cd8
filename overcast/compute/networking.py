"""Ports for an instance, through the network service's REST API (as Nova's neutron module).

`allocate` turns the requested networks into bound ports and returns the network info the
driver and the API's `addresses` need; `deallocate` deletes the ports compute created and
unbinds the ones the user brought. Without a network service, `none` and `auto` boot with no
network at all.
"""

from __future__ import annotations

from typing import Any

from overcast.common import errors
from overcast.compute.remote import Remote


def _address(port: dict[str, Any], ip: dict[str, Any]) -> dict[str, Any]:
    version = 6 if ":" in ip["ip_address"] else 4
    return {
        "version": version,
        "addr": ip["ip_address"],
        "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": port.get("mac_address"),
    }


async def allocate(
    remote: Remote, ctx: dict[str, Any], instance: dict[str, Any], host: str
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Create or bind the instance's ports; (network_info, addresses)."""
    requested = instance.get("requested_networks")
    client = remote.network(ctx)
    if requested in (None, "none", "auto", []) and client is None:
        return [], {}
    if client is None:
        raise errors.ServiceUnavailable("Networks were requested but there is no network service.")
    if requested == "none":
        return [], {}
    if requested in (None, "auto", []):
        requested = [{"uuid": await client.auto_allocated_network(instance["project_id"])}]
    info: list[dict[str, Any]] = []
    addresses: dict[str, list[dict[str, Any]]] = {}
    binding = {
        "device_id": instance["uuid"],
        "binding:host_id": host,
        "device_owner": f"compute:{instance.get('availability_zone') or 'nova'}",
    }
    try:
        for req in requested:
            if req.get("port"):
                port = await client.update_port(req["port"], **binding)
                preexisting = True
            else:
                fields: dict[str, Any] = {"network_id": req["uuid"], **binding}
                if req.get("fixed_ip"):
                    fields["fixed_ips"] = [{"ip_address": req["fixed_ip"]}]
                port = await client.create_port(**fields)
                preexisting = False
            network = await client.get_network(port["network_id"])
            info.append(
                {
                    "port_id": port["id"],
                    "network_id": port["network_id"],
                    "network_name": network.get("name"),
                    "mac": port.get("mac_address"),
                    "fixed_ips": port.get("fixed_ips", []),
                    "preexisting": preexisting,
                    "tag": req.get("tag"),
                }
            )
            addresses.setdefault(network.get("name") or port["network_id"], []).extend(
                _address(port, ip) for ip in port.get("fixed_ips", [])
            )
    except BaseException:
        await deallocate(remote, ctx, info)
        raise
    return info, addresses


async def deallocate(
    remote: Remote, ctx: dict[str, Any], network_info: list[dict[str, Any]]
) -> None:
    """Delete the ports compute made, unbind the user's own. Missing ports are fine."""
    client = remote.network(ctx)
    if client is None:
        return
    for vif in network_info:
        try:
            if vif.get("preexisting"):
                await client.update_port(
                    vif["port_id"], device_id="", device_owner="", **{"binding:host_id": ""}
                )
            else:
                await client.delete_port(vif["port_id"])
        except errors.NotFound:
            continue
