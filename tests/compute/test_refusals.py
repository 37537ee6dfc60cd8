"""What Nova refuses, Overcast refuses with a 400 and changes nothing (and what Nova accepts, it
accepts), through openstacksdk: list filters, counts, names, addresses, passwords, flavors,
extra specs and quota sets."""

from __future__ import annotations

import uuid
from typing import Any

import openstack
import openstack.exceptions as osexc
import pytest

from tests.compute.conftest import boot, wait_for

BadRequest = osexc.BadRequestException


def _servers(conn: openstack.connection.Connection, **query: Any) -> list[Any]:
    return list(conn.compute.servers(**query))


@pytest.mark.parametrize(
    "query",
    ["all_tenants=maybe", "sort_dir=sideways", "locked=perhaps", "name=(", f"limit={2**63}"],
)
def test_bad_list_filters(admin: openstack.connection.Connection, query: str) -> None:
    assert admin.compute.get(f"/servers/detail?{query}").status_code == 400


def test_list_limit_zero_and_name_regex(
    admin: openstack.connection.Connection, cirros: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    first = boot(admin, cirros, name=f"rx-{tag}-alpha")
    second = boot(admin, cirros, name=f"rx-{tag}-beta")
    for server in (first, second):
        wait_for(admin, server.id, "ACTIVE")
    found = {s.name for s in _servers(admin, name=f"^rx-{tag}-(al|zz)")}
    assert found == {f"rx-{tag}-alpha"}
    response = admin.compute.get("/servers?limit=0")
    assert response.status_code == 200 and response.json()["servers"] == []
    for server in (first, second):
        admin.compute.delete_server(server)


@pytest.mark.parametrize(
    "attrs",
    [
        {"min_count": 2.5},
        {"max_count": "1.5"},
        {"name": "nul\x00name"},
        {"access_ipv4": "300.1.1.1"},
        {"access_ipv6": "10.0.0.1"},
        {"admin_password": 12345},
        {"availability_zone": 7},
    ],
)
def test_bad_boot_requests_change_nothing(
    admin: openstack.connection.Connection, cirros: Any, attrs: dict[str, Any]
) -> None:
    name = attrs.pop("name", f"refused-{uuid.uuid4().hex[:8]}")
    with pytest.raises(BadRequest):
        boot(admin, cirros, name=name, **attrs)
    assert not [s for s in _servers(admin) if s.name == name]


def test_access_ipv6_is_kept_canonical_and_passwords_generated(
    admin: openstack.connection.Connection, cirros: Any
) -> None:
    server = boot(admin, cirros, access_ipv6="2001:DB8:0:0:0:0:0:1", access_ipv4="192.0.2.7")
    wait_for(admin, server.id, "ACTIVE")
    shown = admin.compute.get_server(server.id)
    assert shown.access_ipv6 == "2001:db8::1" and shown.access_ipv4 == "192.0.2.7"
    first = admin.compute.rebuild_server(server, image=cirros.id).admin_password
    wait_for(admin, server.id, "ACTIVE")
    second = admin.compute.rebuild_server(server, image=cirros.id).admin_password
    assert first and second and first != second
    with pytest.raises(BadRequest):
        admin.compute.rebuild_server(server, image=cirros.id, admin_password=["x"])
    admin.compute.delete_server(server)


def test_lock_reason_over_255_is_refused(
    admin: openstack.connection.Connection, cirros: Any
) -> None:
    server = boot(admin, cirros)
    wait_for(admin, server.id, "ACTIVE")
    with pytest.raises(BadRequest):
        admin.compute.lock_server(server, locked_reason="r" * 256)
    assert not admin.compute.get_server(server.id).is_locked
    admin.compute.delete_server(server)


def test_flavors_any_printable_name_but_whole_numbers(
    admin: openstack.connection.Connection,
) -> None:
    name = f"ünï☃ flavor {uuid.uuid4().hex[:6]}"
    flavor = admin.compute.create_flavor(name=name, ram=512, vcpus=1, disk=1)
    assert admin.compute.get_flavor(flavor.id).name == name
    with pytest.raises(BadRequest):
        admin.compute.create_flavor(name=f"frac-{uuid.uuid4().hex[:6]}", ram=512.5, vcpus=1, disk=1)
    with pytest.raises(BadRequest):
        admin.compute.create_flavor(name="tab\tname", ram=512, vcpus=1, disk=1)
    admin.compute.delete_flavor(flavor)


def test_extra_spec_values_checked_from_2_86(admin: openstack.connection.Connection) -> None:
    flavor = admin.compute.create_flavor(
        name=f"specs-{uuid.uuid4().hex[:6]}", ram=512, vcpus=1, disk=1
    )
    body = {"extra_specs": {"hw:cpu_policy": "sometimes"}}
    path = f"/flavors/{flavor.id}/os-extra_specs"
    late = admin.compute.post(path, json=body, microversion="2.86")
    assert late.status_code == 400
    assert admin.compute.fetch_flavor_extra_specs(flavor).extra_specs == {}
    good = admin.compute.post(path, json={"extra_specs": {"hw:cpu_policy": "dedicated"}})
    assert good.status_code == 200
    admin.compute.delete_flavor(flavor)


def test_quota_for_an_unknown_project_is_refused(admin: openstack.connection.Connection) -> None:
    with pytest.raises(BadRequest):
        admin.compute.update_quota_set(uuid.uuid4().hex, cores=5)
