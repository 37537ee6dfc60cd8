"""Ports for an instance, through the network service's REST API (as Nova's neutron module).

`allocate` turns the requested networks into ports (made with the user's token, or the ones
the user brought), binds them to the host with compute's service credentials, and waits for
the network service's `network-vif-plugged` event of each before the guest may go ACTIVE;
it returns the network info the driver needs (VIF type, bridge and device names, MTU) and the
API's `addresses`. `deallocate` deletes the ports compute made and unbinds the user's own.
Without a network service, `none` and `auto` boot with no network at all.
"""

from __future__ import annotations

from typing import Any, Protocol

from overcast.clients.network import NetworkClient
from overcast.common import errors, trace
from overcast.compute.remote import Remote

PLUGGED = "network-vif-plugged"


class Waiter(Protocol):
    """The host's event registry (`agent.events.InstanceEvents`)."""

    def expect(self, instance_uuid: str, name: str, tags: list[str]) -> list[Any]: ...

    async def wait(self, keys: list[Any], timeout: float) -> None: ...

    def forget(self, keys: list[Any]) -> None: ...


def _address(port: dict[str, Any], ip: dict[str, Any]) -> dict[str, Any]:
    version = 6 if ":" in ip["ip_address"] else 4
    return {
        "version": version,
        "addr": ip["ip_address"],
        "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": port.get("mac_address"),
    }


async def _default_network(
    client: NetworkClient, instance: dict[str, Any], auto: bool
) -> str | None:
    """The network a boot without one gets, as Nova picks it: the project's only usable
    network (its own or a shared one, not external); none → the auto-allocated topology
    (`auto`) or no network; several → 409 NetworkAmbiguous."""
    project = instance["project_id"]
    usable = {
        n["id"]
        for n in await client.list_networks()
        if not n.get("router:external") and (n.get("project_id") == project or n.get("shared"))
    }
    if len(usable) == 1:
        return usable.pop()
    if len(usable) > 1:
        raise errors.Conflict(
            "Multiple possible networks found, use a Network ID to be more specific."
        )
    if auto:
        return await client.auto_allocated_network(project)
    return None


async def _groups(client: NetworkClient, instance: dict[str, Any]) -> list[str]:
    ids = []
    for name in instance.get("security_groups") or []:
        if name == "default":
            continue
        found = await client.get_security_group(name, instance["project_id"])
        if found is None:
            raise errors.BadRequest(
                f"Security group {name} not found for project {instance['project_id']}."
            )
        ids.append(found["id"])
    return ids


def _vif(
    port: dict[str, Any], network: dict[str, Any], preexisting: bool, tag: Any
) -> dict[str, Any]:
    return {
        "port_id": port["id"],
        "network_id": port["network_id"],
        "network_name": network.get("name"),
        "mac": port.get("mac_address"),
        "fixed_ips": port.get("fixed_ips", []),
        "preexisting": preexisting,
        "tag": tag,
        **_binding(port),
        "mtu": network.get("mtu"),
    }


def _binding(port: dict[str, Any]) -> dict[str, Any]:
    """What a port's binding tells the driver: how to plug it, and where (the VIF details of
    the host it is bound to name its bridge and dataplane namespace)."""
    details = port.get("binding:vif_details") or {}
    return {
        "vif_type": port.get("binding:vif_type"),
        "vif_details": details,
        "devname": details.get("devname") or f"tap{port['id'][:11]}",
        "bridge": details.get("bridge_name"),
    }


async def allocate(
    remote: Remote,
    ctx: dict[str, Any],
    instance: dict[str, Any],
    host: str,
    events: Waiter | None = None,
    timeout: float = 0.0,
    fatal: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Create or take the instance's ports, bind them to `host`, wait until they are plugged
    (at most `timeout` s; 0 does not wait; past it the boot fails when `fatal`, else goes
    on); (network_info, addresses)."""
    requested = instance.get("requested_networks")
    client = remote.network(ctx)
    if requested in (None, "none", "auto", []) and client is None:
        return [], {}
    if client is None:
        raise errors.ServiceUnavailable("Networks were requested but there is no network service.")
    if requested == "none":
        return [], {}
    if requested in (None, "auto", []):
        chosen = await _default_network(client, instance, auto=requested == "auto")
        if chosen is None:
            return [], {}
        requested = [{"uuid": chosen}]
    owner = f"compute:{instance.get('availability_zone') or 'nova'}"
    device = {"device_id": instance["uuid"], "device_owner": owner}
    made: list[tuple[str, bool, Any]] = []  # (port id, brought by the user, tag)
    info: list[dict[str, Any]] = []
    keys: list[Any] = []
    try:
        groups = await _groups(client, instance)
        for req in requested:
            if req.get("port"):
                port = await client.get_port(req["port"])
                if port.get("device_id") and port["device_id"] != instance["uuid"]:
                    raise errors.Conflict(f"Port {port['id']} is still in use.")
                made.append((port["id"], True, req.get("tag")))
                continue
            fields: dict[str, Any] = {"network_id": req["uuid"], **device}
            if req.get("fixed_ip"):
                fields["fixed_ips"] = [{"ip_address": req["fixed_ip"]}]
            if groups:
                fields["security_groups"] = groups
            port = await client.create_port(**fields)
            made.append((port["id"], False, req.get("tag")))
        admin = await remote.network_as_service(ctx) or client
        if events is not None and timeout > 0:
            keys = events.expect(instance["uuid"], PLUGGED, [p for p, _b, _t in made])
        networks: dict[str, dict[str, Any]] = {}
        for port_id, brought, tag in made:
            port = await admin.update_port(port_id, **device, **{"binding:host_id": host})
            if port.get("binding:vif_type") == "binding_failed":
                raise errors.Conflict(
                    f"Binding failed for port {port_id}, please check neutron logs for more information."
                )
            if port["network_id"] not in networks:
                networks[port["network_id"]] = await client.get_network(port["network_id"])
            info.append(_vif(port, networks[port["network_id"]], brought, tag))
        if keys:
            assert events is not None
            try:
                with trace.span("vif-plugged event", ports=len(keys)):
                    await events.wait(keys, timeout)
            except errors.Timeout:
                if fatal:
                    raise
    except BaseException:
        if events is not None and keys:
            events.forget(keys)
        await deallocate(remote, ctx, [{"port_id": p, "preexisting": b} for p, b, _t in made])
        raise
    addresses: dict[str, list[dict[str, Any]]] = {}
    for vif in info:
        addresses.setdefault(vif["network_name"] or vif["network_id"], []).extend(
            _address({"mac_address": vif["mac"]}, ip) for ip in vif["fixed_ips"]
        )
    return info, addresses


async def rebind(
    remote: Remote, ctx: dict[str, Any], network_info: list[dict[str, Any]], host: str
) -> list[dict[str, Any]]:
    """Bind an instance's ports to another host (evacuation, cold migration and its revert):
    its network info with the new bindings (another host's agent has its own dataplane)."""
    admin = await remote.network_as_service(ctx)
    if admin is None:
        return network_info
    info = []
    for vif in network_info:
        port = await admin.update_port(vif["port_id"], **{"binding:host_id": host})
        info.append({**vif, **_binding(port)})
    return info


async def deallocate(
    remote: Remote, ctx: dict[str, Any], network_info: list[dict[str, Any]]
) -> None:
    """Delete the ports compute made, unbind the user's own. Missing ports are fine."""
    client = remote.network(ctx)
    if client is None:
        return
    admin = await remote.network_as_service(ctx) or client
    for vif in network_info:
        try:
            if vif.get("preexisting"):
                await admin.update_port(
                    vif["port_id"], device_id="", device_owner="", **{"binding:host_id": ""}
                )
            else:
                await admin.delete_port(vif["port_id"])
        except errors.NotFound:
            continue
