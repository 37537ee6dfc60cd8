"""The network service (Neutron v2.0) as compute uses it: networks to boot on, ports to create,
bind and delete, and the auto-allocated topology behind `networks: auto`."""

from __future__ import annotations

from typing import Any

from overcast.clients.base import RestClient


class NetworkClient(RestClient):
    service = "network"

    async def list_networks(self, **filters: Any) -> list[dict[str, Any]]:
        response = await self.request("GET", "/v2.0/networks", params=filters)
        networks: list[dict[str, Any]] = response.json()["networks"]
        return networks

    async def get_network(self, network_id: str) -> dict[str, Any]:
        response = await self.request("GET", f"/v2.0/networks/{network_id}")
        network: dict[str, Any] = response.json()["network"]
        return network

    async def auto_allocated_network(self, project_id: str) -> str:
        """The network `networks: auto` boots on (Neutron creates it on first use)."""
        response = await self.request("GET", f"/v2.0/auto-allocated-topology/{project_id}")
        return str(response.json()["auto_allocated_topology"]["id"])

    async def create_port(self, **fields: Any) -> dict[str, Any]:
        response = await self.request("POST", "/v2.0/ports", json_body={"port": fields})
        port: dict[str, Any] = response.json()["port"]
        return port

    async def get_port(self, port_id: str) -> dict[str, Any]:
        response = await self.request("GET", f"/v2.0/ports/{port_id}")
        port: dict[str, Any] = response.json()["port"]
        return port

    async def update_port(self, port_id: str, **fields: Any) -> dict[str, Any]:
        response = await self.request("PUT", f"/v2.0/ports/{port_id}", json_body={"port": fields})
        port: dict[str, Any] = response.json()["port"]
        return port

    async def list_ports(self, **filters: Any) -> list[dict[str, Any]]:
        response = await self.request("GET", "/v2.0/ports", params=filters)
        ports: list[dict[str, Any]] = response.json()["ports"]
        return ports

    async def delete_port(self, port_id: str) -> None:
        await self.request("DELETE", f"/v2.0/ports/{port_id}")

    async def get_security_group(self, name_or_id: str, project_id: str) -> dict[str, Any] | None:
        response = await self.request(
            "GET", "/v2.0/security-groups", params={"project_id": project_id}
        )
        for group in response.json()["security_groups"]:
            if name_or_id in (group["id"], group["name"]):
                return dict(group)
        return None
