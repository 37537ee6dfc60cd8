"""Quota sets, quota classes and limits: `openstack quota show/set`, the SDK, counted usage,
over-quota boots and resizes answered 403 in Nova's words, and bad input."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import openstack
import pytest

from tests.compute.conftest import boot, wait_for
from tests.compute.nova_http import call, fault
from tests.helpers.server import Server


def test_cli_quota_show_and_set(server: Server, tenant_factory: Any) -> None:
    t = tenant_factory()
    shown = {r["Resource"]: r["Limit"] for r in server.cli_json("quota", "show", t.project_name)}
    assert shown["instances"] == 10 and shown["cores"] == 20 and shown["ram"] == 51200
    server.cli("quota", "set", "--instances", "3", "--cores", "7", t.project_name)
    shown = call(t.conn, "GET", f"/os-quota-sets/{t.project_id}").json()["quota_set"]
    assert shown["instances"] == 3 and shown["cores"] == 7 and shown["ram"] == 51200
    defaults = {r["Resource"]: r["Limit"] for r in server.cli_json("quota", "show", "--default")}
    assert defaults["instances"] == 10


def test_usage_is_counted_and_enforced(admin: Any, tenant_factory: Any, cirros: Any) -> None:
    t = tenant_factory()
    admin.compute.update_quota_set(t.project_id, instances=2, cores=3)
    first = boot(t.conn, cirros, flavor="3")  # m1.medium: 2 vCPUs, 4096 MB
    wait_for(t.conn, first.id, "ACTIVE")
    detail = call(t.conn, "GET", f"/os-quota-sets/{t.project_id}/detail").json()["quota_set"]
    assert detail["instances"] == {"limit": 2, "in_use": 1, "reserved": 0}
    assert detail["cores"]["in_use"] == 2 and detail["ram"]["in_use"] == 4096
    response = call(
        t.conn,
        "POST",
        "/servers",
        body={
            "server": {"name": "big", "imageRef": cirros.id, "flavorRef": "3", "networks": "none"}
        },
    )
    fault(response, 403, "Quota exceeded for cores: Requested 2, but already used 2 of 3 cores")
    response = call(
        t.conn,
        "POST",
        "/servers",
        body={
            "server": {
                "name": "many",
                "imageRef": cirros.id,
                "flavorRef": "1",
                "networks": "none",
                "min_count": 2,
            }
        },
    )
    fault(
        response,
        403,
        "Quota exceeded for instances, cores: Requested 2, 2, but already used "
        "1, 2 of 2, 3 instances, cores",
    )
    assert len(list(t.conn.compute.servers())) == 1
    limits = call(t.conn, "GET", "/limits").json()["limits"]["absolute"]
    assert limits["maxTotalInstances"] == 2 and limits["totalInstancesUsed"] == 1
    assert limits["totalCoresUsed"] == 2 and "maxPersonality" not in limits
    assert "maxPersonality" in call(t.conn, "GET", "/limits", "2.56").json()["limits"]["absolute"]
    # A limit below what is used needs `force`; deleting the server frees it at once.
    fault(
        call(admin, "PUT", f"/os-quota-sets/{t.project_id}", body={"quota_set": {"instances": 0}}),
        400,
        "must be greater than or equal",
    )
    ok = call(
        admin,
        "PUT",
        f"/os-quota-sets/{t.project_id}",
        body={"quota_set": {"instances": 0, "force": True}},
    )
    assert ok.json()["quota_set"]["instances"] == 0
    t.conn.compute.delete_server(first)
    assert call(admin, "DELETE", f"/os-quota-sets/{t.project_id}").status_code == 202
    assert admin.compute.get_quota_set(t.project_id).instances == 10


def test_projects_see_only_their_quotas(admin: Any, tenant_factory: Any) -> None:
    a, b = tenant_factory(), tenant_factory()
    fault(call(b.conn, "GET", f"/os-quota-sets/{a.project_id}"), 403)
    fault(call(b.conn, "GET", f"/os-quota-sets/{a.project_id}/detail"), 403)
    fault(call(b.conn, "GET", f"/limits?tenant_id={a.project_id}"), 403)
    fault(
        call(
            a.conn, "PUT", f"/os-quota-sets/{a.project_id}", body={"quota_set": {"instances": 100}}
        ),
        403,
    )
    assert call(a.conn, "GET", f"/os-quota-sets/{a.project_id}/defaults").status_code == 200
    shown = call(admin, "GET", f"/limits?tenant_id={a.project_id}").json()["limits"]["absolute"]
    assert shown["maxTotalInstances"] == 10


def test_bad_quota_input(admin: Any, tenant_factory: Any) -> None:
    t = tenant_factory()
    path = f"/os-quota-sets/{t.project_id}"
    for version, body, needle in [
        ("2.96", {}, "'quota_set' is a required property"),
        ("2.96", {"quota_set": []}, "is not of type 'object'"),
        ("2.96", {"quota_set": {"cores": -2}}, "less than the minimum of -1"),
        ("2.96", {"quota_set": {"cores": "many"}}, "is not of type 'integer'"),
        ("2.96", {"quota_set": {"cores": 2**40}}, "greater than the maximum"),
        ("2.96", {"quota_set": {"floating_ips": 3}}, "Additional properties"),
        ("2.96", {"quota_set": {"injected_files": 3}}, "Additional properties"),
        ("2.96", {"quota_set": {"force": "perhaps"}}, "boolean"),
    ]:
        fault(call(admin, "PUT", path, version, body), 400, needle)
    assert call(admin, "PUT", path, "2.35", {"quota_set": {"floating_ips": 3}}).status_code == 200
    assert admin.compute.get_quota_set(t.project_id).cores == 20
    call(admin, "DELETE", path)


def test_quota_class_defaults(admin: Any, tenant_factory: Any) -> None:
    t = tenant_factory()
    shown = call(admin, "GET", "/os-quota-class-sets/default").json()["quota_class_set"]
    assert shown["id"] == "default" and shown["instances"] == 10
    try:
        done = call(
            admin,
            "PUT",
            "/os-quota-class-sets/default",
            body={"quota_class_set": {"key_pairs": 77}},
        )
        assert done.json()["quota_class_set"]["key_pairs"] == 77
        assert admin.compute.get_quota_set(t.project_id).key_pairs == 77
        fault(
            call(
                t.conn,
                "PUT",
                "/os-quota-class-sets/default",
                body={"quota_class_set": {"key_pairs": 1}},
            ),
            403,
        )
    finally:
        call(
            admin,
            "PUT",
            "/os-quota-class-sets/default",
            body={"quota_class_set": {"key_pairs": 100}},
        )


def test_resize_counts_against_quota_from_the_request(
    admin: Any, tenant_factory: Any, cirros: Any
) -> None:
    t = tenant_factory()
    admin.compute.update_quota_set(t.project_id, cores=2)
    vm = wait_for(t.conn, boot(t.conn, cirros, flavor="1").id, "ACTIVE")  # m1.tiny: 1 vCPU
    t.conn.compute.resize_server(vm, "3")  # m1.medium: 2 vCPUs, counted at once
    assert t.conn.compute.get_limits().absolute.total_cores_used == 2
    with pytest.raises(openstack.exceptions.ForbiddenException, match="already used 2 of 2"):
        boot(t.conn, cirros, flavor="1")
    wait_for(t.conn, vm.id, "VERIFY_RESIZE")
    t.conn.compute.revert_server_resize(vm)
    wait_for(t.conn, vm.id, "ACTIVE")
    other = wait_for(t.conn, boot(t.conn, cirros, flavor="1").id, "ACTIVE")
    with pytest.raises(openstack.exceptions.ForbiddenException, match="Quota exceeded for cores"):
        t.conn.compute.resize_server(vm, "3")
    assert t.conn.compute.get_server(vm).status == "ACTIVE"
    assert t.conn.compute.get_limits().absolute.total_cores_used == 2
    for made in (vm, other):
        t.conn.compute.delete_server(made)


def test_a_burst_of_boots_fills_the_quota_exactly(
    admin: Any, tenant_factory: Any, cirros: Any
) -> None:
    # Boots of one project that arrive together are written in batches, one count of the
    # project each: as many pass as the quota holds, the rest answered 403 as Nova
    # words it, and each that passed builds.
    t = tenant_factory()
    admin.compute.update_quota_set(t.project_id, instances=4)
    first = boot(t.conn, cirros)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        tries = list(pool.map(lambda _i: _try_boot(t.conn, cirros), range(8)))
    made = [found for found in tries if not isinstance(found, Exception)]
    refused = [found for found in tries if isinstance(found, Exception)]
    assert len(made) == 3 and len(refused) == 5, tries
    for exc in refused:
        assert isinstance(exc, openstack.exceptions.ForbiddenException)
        assert "Quota exceeded for instances: Requested 1, but already used 4 of 4" in str(exc)
    for server in [first, *made]:
        wait_for(t.conn, server.id, "ACTIVE")
    assert t.conn.compute.get_limits().absolute.total_instances_used == 4
    for server in [first, *made]:
        t.conn.compute.delete_server(server)


def _try_boot(conn: openstack.connection.Connection, image: Any) -> Any:
    try:
        return boot(conn, image)
    except openstack.exceptions.HttpException as exc:
        return exc
