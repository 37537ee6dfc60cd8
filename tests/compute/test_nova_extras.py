"""The compute APIs Nova still serves at the microversions Overcast claims, through openstacksdk:
the image proxy and its metadata, migrations, diagnostics, backups with rotation, per-user
quotas, os-hosts, extensions, the usage audit log and external events."""

from __future__ import annotations

import uuid
from typing import Any

import openstack
import openstack.exceptions as osexc
import pytest

from tests.compute.conftest import boot, wait_for
from tests.helpers.isolation import Tenant


def test_image_proxy_and_metadata(admin: openstack.connection.Connection, cirros: Any) -> None:
    image = admin.image.create_image(
        name=f"proxy-{uuid.uuid4().hex[:6]}", disk_format="raw", container_format="bare", data=b"x"
    )
    found = {i.id: i for i in admin.compute.images(name=image.name)}
    assert found[image.id].status == "ACTIVE"
    admin.compute.set_image_metadata(image.id, os_distro="cirros", flavour="plain")
    meta = admin.compute.get_image_metadata(image.id).metadata
    assert meta["os_distro"] == "cirros" and meta["flavour"] == "plain"
    assert admin.image.get_image(image.id).os_distro == "cirros"
    admin.compute.delete_image_metadata(image.id, ["flavour"])
    assert "flavour" not in admin.compute.get_image_metadata(image.id).metadata
    late = admin.compute.get(f"/images/{image.id}", microversion="2.36")
    assert late.status_code == 404
    admin.compute.delete_image(image.id)
    with pytest.raises(osexc.NotFoundException):
        admin.image.get_image(image.id)


def test_migrations_diagnostics_and_moves_to_impossible_hosts(
    admin: openstack.connection.Connection, cirros: Any
) -> None:
    server = boot(admin, cirros)
    wait_for(admin, server.id, "ACTIVE")
    diagnostics = admin.compute.get_server_diagnostics(server)
    assert diagnostics.memory_details["maximum"] is not None and diagnostics.state == "running"
    admin.compute.migrate_server(server)
    wait_for(admin, server.id, "VERIFY_RESIZE", "ACTIVE")
    kinds = {(m.server_id, m.migration_type) for m in admin.compute.migrations()}
    assert (server.id, "migration") in kinds
    shown = admin.compute.get_server(server.id)
    if shown.status == "VERIFY_RESIZE":
        admin.compute.confirm_server_resize(server)
        shown = wait_for(admin, server.id, "ACTIVE")
    with pytest.raises(osexc.BadRequestException):
        admin.compute.live_migrate_server(server, host="no-such-host", block_migration="auto")
    with pytest.raises(osexc.BadRequestException):
        admin.compute.live_migrate_server(server, host=shown.compute_host, block_migration="auto")
    assert wait_for(admin, server.id, "ACTIVE").compute_host == shown.compute_host
    admin.compute.delete_server(server)


def test_backups_rotate(admin: openstack.connection.Connection, cirros: Any) -> None:
    server = boot(admin, cirros)
    wait_for(admin, server.id, "ACTIVE")
    for n in range(3):
        admin.compute.backup_server(server, f"bk-{server.id[:6]}-{n}", "daily", 2)
        wait_for(admin, server.id, "ACTIVE")
    backups = [i for i in admin.image.images() if i.instance_uuid == server.id]
    assert len(backups) == 2
    assert all(b.properties.get("image_type") == "backup" for b in backups)
    admin.compute.delete_server(server)
    for image in backups:
        admin.image.delete_image(image)


def test_per_user_quotas(
    admin: openstack.connection.Connection, tenant_factory: Any, cirros: Any
) -> None:
    tenant: Tenant = tenant_factory()
    path = f"/os-quota-sets/{tenant.project_id}"
    body = {"quota_set": {"instances": 1}}
    assert admin.compute.put(f"{path}?user_id={tenant.user_id}", json=body).status_code == 200
    path = f"/os-quota-sets/{tenant.project_id}"
    assert (
        admin.compute.get(f"{path}?user_id={tenant.user_id}").json()["quota_set"]["instances"] == 1
    )
    assert admin.compute.get(path).json()["quota_set"]["instances"] != 1
    first = boot(tenant.conn, cirros)
    wait_for(tenant.conn, first.id, "ACTIVE")
    with pytest.raises(osexc.ForbiddenException):
        boot(tenant.conn, cirros)
    too_many = {"quota_set": {"instances": 10**6}}
    assert admin.compute.put(f"{path}?user_id={tenant.user_id}", json=too_many).status_code == 400
    tenant.conn.compute.delete_server(first)


def test_hosts_extensions_audit_log_and_events(
    admin: openstack.connection.Connection, cirros: Any
) -> None:
    hosts = admin.compute.get("/os-hosts").json()["hosts"]
    computes = [h["host_name"] for h in hosts if h["service"] == "compute"]
    assert computes
    detail = admin.compute.get(f"/os-hosts/{computes[0]}").json()["host"]
    assert detail[0]["resource"]["project"] == "(total)"
    assert admin.compute.get("/os-hosts/nowhere").status_code == 404
    assert admin.compute.get("/os-hosts", microversion="2.43").status_code == 404
    aliases = {e.alias for e in admin.compute.extensions()}
    assert {"os-hosts", "os-consoles"} <= aliases
    audit = admin.compute.get("/os-instance_usage_audit_log").json()
    assert audit["instance_usage_audit_logs"]["num_hosts"] == len(computes)
    assert admin.compute.get("/os-instance_usage_audit_log/not-a-time").status_code == 400
    server = boot(admin, cirros)
    wait_for(admin, server.id, "ACTIVE")
    events = list(
        admin.compute.create_server_external_events(
            [{"name": "network-changed", "server_uuid": server.id}]
        )
    )
    assert events[0].code == 200
    admin.compute.delete_server(server)
