"""Per-volume-type quotas (`volumes_<type>`, `gigabytes_<type>`, `snapshots_<type>`): set and
shown with `openstack quota set --volume-type` / `quota show`, and enforced (413) on creates,
snapshots, extends and retypes, while other types stay unlimited."""

from __future__ import annotations

from typing import Any

import openstack
import pytest

from tests.helpers.server import Server
from tests.volume.conftest import name, wait_status, wait_volume


def test_per_type_quotas(server: Server, admin: Any, tenant_factory: Any) -> None:
    vtype = admin.block_storage.create_type(name=name("qt"))
    tenant = tenant_factory()
    bs = tenant.conn.block_storage
    server.cli(
        "quota",
        "set",
        "--volume-type",
        vtype.name,
        "--volumes",
        "1",
        "--gigabytes",
        "2",
        "--snapshots",
        "0",
        tenant.project_id,
    )
    quota = admin.block_storage.get_quota_set(tenant.project_id)
    extra = quota.to_dict().get("additional_properties") or {}
    found = {**quota.to_dict(), **extra}
    assert found[f"volumes_{vtype.name}"] == 1 and found[f"gigabytes_{vtype.name}"] == 2
    assert found[f"snapshots_{vtype.name}"] == 0 and found["volumes"] == 10
    shown = server.cli("quota", "show", "--volume", tenant.project_id).stdout
    assert f"volumes_{vtype.name}" in shown

    with pytest.raises(openstack.exceptions.HttpException) as big:
        bs.create_volume(size=3, volume_type=vtype.name)
    assert big.value.status_code == 413 and f"gigabytes_{vtype.name}" in str(big.value)
    first = wait_volume(
        tenant.conn, bs.create_volume(size=1, volume_type=vtype.name).id, "available"
    )
    with pytest.raises(openstack.exceptions.HttpException) as many:
        bs.create_volume(size=1, volume_type=vtype.name)
    assert many.value.status_code == 413 and f"volumes_{vtype.name}" in str(many.value)
    with pytest.raises(openstack.exceptions.HttpException) as snap:
        bs.create_snapshot(volume_id=first.id)
    assert snap.value.status_code == 413
    with pytest.raises(openstack.exceptions.HttpException) as grow:
        bs.extend_volume(first.id, 3)
    assert grow.value.status_code == 413
    # Another type is not limited; retyping into the full type is refused.
    other = wait_volume(tenant.conn, bs.create_volume(size=1).id, "available")
    with pytest.raises(openstack.exceptions.HttpException) as into:
        bs.retype_volume(other.id, vtype.name)
    assert into.value.status_code == 413
    usage = admin.block_storage.get_quota_set(tenant.project_id, usage=True).usage
    assert usage[f"volumes_{vtype.name}"] == 1 and usage[f"gigabytes_{vtype.name}"] == 1
    # A limit below what is used, or for a type that does not exist, is refused.
    with pytest.raises(openstack.exceptions.BadRequestException):
        admin.block_storage.update_quota_set(tenant.project_id, **{f"volumes_{vtype.name}": 0})
    with pytest.raises(openstack.exceptions.BadRequestException):
        admin.block_storage.update_quota_set(tenant.project_id, volumes_nosuchtype=3)
    for volume in (first, other):
        bs.delete_volume(volume.id)
        wait_status(lambda i: _gone(tenant.conn, i), volume.id, "gone")
    admin.block_storage.delete_type(vtype)


def _gone(conn: Any, volume_id: str) -> Any:
    class Gone:
        status = "gone"

    found = conn.block_storage.find_volume(volume_id, ignore_missing=True)
    return found if found is not None else Gone()
