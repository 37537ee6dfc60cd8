"""Fixtures for the network tests: a project of one's own with a network and subnet, and the
bootstrap's `public` network."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import openstack
import pytest

from tests.helpers.isolation import Tenant
from tests.helpers.server import Server


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def public(admin: openstack.connection.Connection) -> Any:
    found = admin.network.find_network("public")
    assert found is not None and found.is_router_external
    return found


@pytest.fixture
def tenant(tenant_factory: Callable[..., Tenant]) -> Tenant:
    return tenant_factory()


@pytest.fixture
def lan(tenant: Tenant) -> tuple[Any, Any]:
    """A network with a /24 subnet in the tenant's project."""
    net = tenant.conn.network.create_network(name=name("net"))
    sub = tenant.conn.network.create_subnet(
        network_id=net.id, ip_version=4, cidr="10.10.0.0/24", name=name("sub")
    )
    return net, sub


def cli_as(server: Server, tenant: Tenant, *args: str) -> Any:
    """`openstack -f json ...` as the tenant's user."""
    auth = [
        "--os-username", tenant.user_name,
        "--os-password", tenant.password,
        "--os-project-name", tenant.project_name,
        "--os-user-domain-name", "Default",
        "--os-project-domain-name", "Default",
    ]  # fmt: skip
    return server.cli_json(*auth, *args)
