"""The cross-project isolation pattern every service's tests extend.

`make_tenant` creates a fresh project with its own member user and returns a connection scoped
to it. A service's isolation test creates a resource as tenant A and asserts, with
`assert_hidden`, that tenant B can neither read nor change it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.server import Server


@dataclass
class Tenant:
    project_id: str
    project_name: str
    user_id: str
    user_name: str
    password: str
    conn: openstack.connection.Connection


def make_tenant(
    server: Server, admin: openstack.connection.Connection, role: str = "member"
) -> Tenant:
    suffix = uuid.uuid4().hex[:8]
    project = admin.identity.create_project(name=f"p-{suffix}", domain_id="default")
    password = uuid.uuid4().hex
    user = admin.identity.create_user(
        name=f"u-{suffix}", password=password, domain_id="default", default_project_id=project.id
    )
    role_obj = admin.identity.find_role(role)
    admin.identity.assign_project_role_to_user(project, user, role_obj)
    conn = server.connect(
        "overcast",
        auth={
            "username": user.name,
            "password": password,
            "project_name": project.name,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
            "auth_url": server.url + "/v3",
        },
    )
    return Tenant(project.id, project.name, user.id, user.name, password, conn)


def assert_hidden(*attempts: Callable[[], Any]) -> None:
    """Each attempt (another tenant reading or changing a resource) must fail with 403 or 404."""
    for attempt in attempts:
        with pytest.raises((osexc.NotFoundException, osexc.ForbiddenException)) as info:
            result = attempt()
            if result is None:  # find_* returns None when the resource is invisible
                raise osexc.NotFoundException("hidden")
        assert info.value is not None
