"""Fixtures for the object store tests: python-swiftclient connections (Python API) and the
`swift` command, authenticated against the test cloud's Keystone."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import swiftclient

from tests.helpers.isolation import Tenant
from tests.helpers.server import Server

SWIFT = str(Path(sys.executable).parent / "swift")


def swift_conn(server: Server, user: str, password: str, project: str) -> swiftclient.Connection:
    return swiftclient.Connection(
        authurl=server.url + "/v3",
        user=user,
        key=password,
        auth_version="3",
        os_options={
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        retries=0,
    )


@pytest.fixture(scope="session")
def swift(server: Server) -> swiftclient.Connection:
    """The admin user, owner of the admin project's account."""
    return swift_conn(server, "admin", server.password("admin"), "admin")


@pytest.fixture
def tenant_swift(
    server: Server, tenant_factory: Callable[..., Tenant]
) -> Callable[..., tuple[Tenant, swiftclient.Connection]]:
    def make(role: str = "member") -> tuple[Tenant, swiftclient.Connection]:
        tenant = tenant_factory(role)
        return tenant, swift_conn(server, tenant.user_name, tenant.password, tenant.project_name)

    return make


@pytest.fixture
def container(swift: swiftclient.Connection) -> str:
    name = f"c-{uuid.uuid4().hex[:8]}"
    swift.put_container(name)
    return name


def swift_cli(
    server: Server,
    *args: str,
    user: str = "admin",
    project: str = "admin",
    password: str | None = None,
    cwd: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "ST_"))}
    env.update(
        OS_AUTH_URL=server.url + "/v3",
        OS_USERNAME=user,
        OS_PASSWORD=password or server.password(user),
        OS_PROJECT_NAME=project,
        OS_USER_DOMAIN_NAME="Default",
        OS_PROJECT_DOMAIN_NAME="Default",
        OS_IDENTITY_API_VERSION="3",
    )
    result = subprocess.run(
        [SWIFT, *args], env=env, text=True, capture_output=True, cwd=cwd, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"swift {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result
