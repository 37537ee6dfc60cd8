"""The parts of Cinder's v3 API around volumes, through openstacksdk and the openstack CLI:
version documents and microversions, extensions, list filters, sorting, paging and summary,
private types and their access lists, per-project default types, QoS specs and their
associations, encryption types, availability zones, services, pools, quota classes,
snapshot updates and metadata, image metadata, backup record export and import."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openstack.exceptions as osexc
import pytest

from tests.helpers.server import Server
from tests.volume.conftest import name, wait_status, wait_volume


def test_versions_and_microversions(server: Server, admin: Any) -> None:
    root = httpx.get(f"{server.url}/volume/", follow_redirects=True)
    versions = {v["id"]: v for v in root.json()["versions"]}
    v3 = versions["v3.0"]
    assert v3["status"] == "CURRENT" and v3["min_version"] == "3.0"
    highest = v3["version"]
    bs = admin.block_storage
    # No version asked: strictly 3.0 (no 3.x fields), echoed as such.
    plain = bs.get("/volumes/summary", microversion=None)
    assert plain.status_code == 404 or "volume 3.0" in plain.headers["OpenStack-API-Version"]
    listed = bs.get("/types", microversion=None)
    assert listed.headers["OpenStack-API-Version"] == "volume 3.0"
    asked = bs.get("/types", microversion="3.44")
    assert asked.headers["OpenStack-API-Version"] == "volume 3.44"
    assert "OpenStack-API-Version" in asked.headers["Vary"]
    latest = bs.get("/types", headers={"OpenStack-API-Version": "volume latest"})
    assert latest.headers["OpenStack-API-Version"] == f"volume {highest}"
    major, minor = (int(p) for p in highest.split("."))
    beyond = bs.get("/types", microversion=f"{major}.{minor + 1}", raise_exc=False)
    assert beyond.status_code == 406
    assert {e.alias for e in bs.extensions()} >= {"os-vol-host-attr", "os-vol-mig-status-attr"}
    catalog = {e["type"] for e in admin.service_catalog}
    assert {"block-storage", "volumev3"} <= catalog


def test_lists_filters_sorting_paging_summary(server: Server, tenant_factory: Any) -> None:
    tenant = tenant_factory()
    conn = tenant.conn
    bs = conn.block_storage
    made = [bs.create_volume(size=s, name=f"pg-{i}", metadata={"k": str(i % 2)})
            for i, s in enumerate((1, 2, 1))]  # fmt: skip
    for volume in made:
        wait_volume(conn, volume.id, "available")
    by_size = _names(conn, sort="size:desc,name:asc")
    assert by_size == ["pg-1", "pg-0", "pg-2"]
    assert _names(conn, sort_key="name", sort_dir="desc") == ["pg-2", "pg-1", "pg-0"]
    assert _names(conn, limit=2, sort="name:asc") == ["pg-0", "pg-1"]
    marker = next(v.id for v in made if v.name == "pg-1")
    assert _names(conn, limit=2, sort="name:asc", marker=marker) == ["pg-2"]
    assert {v.name for v in bs.volumes(name="pg-1")} == {"pg-1"}
    assert _names(conn, metadata='{"k": "0"}', sort="name:asc") == ["pg-0", "pg-2"]
    assert _names(conn, size=2) == ["pg-1"]
    assert {v.name for v in bs.volumes(status="error")} == set()
    summary = bs.summary(False)
    assert summary.total_count == 3 and summary.total_size == 4
    cli = server.cli_json("volume", "list", "--long", "--project", tenant.project_id)
    assert {row["Name"] for row in cli} == {"pg-0", "pg-1", "pg-2"}
    wrong = bs.get("/volumes?sort=size:sideways", microversion="3.0", raise_exc=False)
    assert wrong.status_code == 400 and "badRequest" in wrong.json()
    for volume in made:
        bs.delete_volume(volume.id)


def test_types_access_defaults_qos_encryption(
    server: Server, admin: Any, tenant_factory: Any
) -> None:
    bs = admin.block_storage
    user = tenant_factory()
    private = bs.create_type(name=name("priv"), is_public=False)
    # A private type is invisible to other projects until they are given access.
    assert private.id not in {t.id for t in user.conn.block_storage.types()}
    with pytest.raises(osexc.NotFoundException):
        user.conn.block_storage.create_volume(size=1, volume_type=private.id)
    bs.add_type_access(private, user.project_id)
    assert {a["project_id"] for a in bs.get_type_access(private)} == {user.project_id}
    assert private.id in {t.id for t in user.conn.block_storage.types()}
    # The project's default type: its volumes get it when they name none.
    bs.set_default_type(user.project_id, private)
    assert bs.show_default_type(user.project_id).volume_type_id == private.id
    volume = user.conn.block_storage.create_volume(size=1)
    assert wait_volume(user.conn, volume.id, "available").volume_type == private.name
    user.conn.block_storage.delete_volume(volume.id)
    bs.unset_default_type(user.project_id)
    bs.remove_type_access(private, user.project_id)
    assert private.id not in {t.id for t in user.conn.block_storage.types()}

    qos = bs.create_qos_spec(name=name("qos"), consumer="back-end", specs={"total_iops_sec": "500"})
    assert bs.get_qos_spec(qos.id).specs == {"total_iops_sec": "500"}
    bs.associate_qos_spec(qos, private.id)
    assert [a.id for a in bs.qos_spec_associations(qos)] == [private.id]
    with pytest.raises(osexc.BadRequestException):  # an associated spec is in use
        bs.delete_qos_spec(qos)
    bs.disassociate_qos_spec(qos, private.id)
    assert list(bs.qos_spec_associations(qos)) == []
    bs.delete_qos_spec(qos)

    encryption = bs.create_type_encryption(
        private, provider="luks", control_location="front-end", cipher="aes-xts-plain64",
        key_size=256,
    )  # fmt: skip
    assert bs.get_type_encryption(private).provider == "luks" and encryption.key_size == 256
    with pytest.raises(osexc.HttpException):  # members do not manage types
        user.conn.block_storage.create_type(name=name("no"))
    bs.delete_type_encryption(bs.get_type_encryption(private))
    bs.delete_type(private)


def test_zones_services_pools_quota_classes(admin: Any, demo: Any) -> None:
    bs = admin.block_storage
    assert {z.name for z in bs.availability_zones()} == {"nova"}
    assert {z.name for z in demo.block_storage.availability_zones()} == {"nova"}
    services = {(s.binary, s.status, s.state) for s in bs.services()}
    assert {("cinder-volume", "enabled", "up"), ("cinder-scheduler", "enabled", "up")} <= services
    (pool,) = list(bs.backend_pools())
    assert pool.name.endswith("#file") and pool.capabilities["total_capacity_gb"] > 0
    assert pool.capabilities["thin_provisioning_support"] is True
    with pytest.raises(osexc.HttpException):
        list(demo.block_storage.backend_pools())
    klass = name("qc")
    bs.update_quota_class_set(klass, volumes=7, gigabytes=70)
    shown = bs.get_quota_class_set(klass)
    assert shown.volumes == 7 and shown.gigabytes == 70
    with pytest.raises(osexc.HttpException):
        demo.block_storage.update_quota_class_set(klass, volumes=8)
    assert bs.get_quota_class_set(klass).volumes == 7


def test_snapshot_image_metadata_backup_records_messages(admin: Any) -> None:
    bs = admin.block_storage
    volume = bs.create_volume(size=1, name=name("rec"))
    wait_volume(admin, volume.id, "available")
    bs.set_volume_image_metadata(volume, os_distro="debian", hw_disk_bus="virtio")
    assert bs.get_volume(volume.id).volume_image_metadata == {
        "os_distro": "debian", "hw_disk_bus": "virtio"}  # fmt: skip
    bs.delete_volume_image_metadata(volume, keys=["hw_disk_bus"])
    assert bs.get_volume(volume.id).volume_image_metadata == {"os_distro": "debian"}

    snap = bs.create_snapshot(volume_id=volume.id, name=name("s"))
    wait_status(bs.get_snapshot, snap.id, "available")
    bs.update_snapshot(snap, name="renamed", description="d")
    bs.set_snapshot_metadata(snap, role="gold")
    shown = bs.get_snapshot(snap.id)
    assert shown.name == "renamed" and shown.description == "d"
    assert shown.metadata == {"role": "gold"}

    backup = bs.create_backup(volume_id=volume.id, name=name("b"))
    wait_status(bs.get_backup, backup.id, "available")
    exported = bs.get(f"/backups/{backup.id}/export_record", microversion="3.0")
    record = exported.json()["backup-record"]
    assert record["backup_service"].startswith("cinder.backup.drivers.")  # Cinder's names
    bs.delete_backup(backup)
    wait_status(lambda i: _gone(bs, i), backup.id, "gone")
    # (openstacksdk's import_backup posts to the wrong path: the REST call as Cinder has it.)
    imported = _import(bs, record)
    assert imported.status_code == 201, imported.text
    again = wait_status(bs.get_backup, imported.json()["backup"]["id"], "available")
    assert again.id == backup.id and again.size == 1
    bad = _import(bs, {**record, "backup_url": "bm90IGEgcmVjb3Jk"})
    assert bad.status_code == 400 and "badRequest" in bad.json()
    assert _import(bs, record).status_code == 400  # it exists again: not imported twice
    other = _import(bs, {**record, "backup_service": "cinder.backup.drivers.swift"})
    assert other.status_code == 400 and "badRequest" in other.json()
    restored = bs.restore_backup(again, name=name("r"))
    wait_volume(admin, restored.volume_id, "available")

    bs.delete_backup(again)
    bs.delete_volume(restored.volume_id)
    bs.delete_snapshot(snap)
    bs.wait_for_delete(snap, interval=0.1)
    bs.delete_volume(volume.id)
    with pytest.raises(osexc.NotFoundException):
        bs.get_message(str(uuid.uuid4()))


def _names(conn: Any, **params: Any) -> list[str]:
    """Names of GET /volumes/detail with `params` as Cinder takes them (the SDK drops some)."""
    found = conn.block_storage.get("/volumes/detail", params=params, microversion="3.0")
    return [v["name"] for v in found.json()["volumes"]]


def _import(bs: Any, record: dict[str, Any]) -> Any:
    body = {"backup-record": record}
    return bs.post("/backups/import_record", json=body, microversion="3.0", raise_exc=False)


class _Gone:
    status = "gone"


def _gone(bs: Any, backup_id: str) -> Any:
    found = bs.find_backup(backup_id, ignore_missing=True)
    return _Gone() if found is None else found


def test_volume_from_another_volume(server: Server, admin: Any) -> None:
    """`volume create --source`: a clone, as large as asked, holding the source's data."""
    source = server.cli_json("volume", "create", "--size", "1", name("orig"))
    wait_volume(admin, source["id"], "available")
    clone = server.cli_json("volume", "create", "--source", source["id"], "--size", "2", name("cl"))
    made = wait_volume(admin, clone["id"], "available")
    assert made.source_volume_id == source["id"] and made.size == 2
    unknown = admin.block_storage.post(
        "/volumes",
        json={"volume": {"size": 1, "source_volid": str(uuid.uuid4())}},
        microversion="3.0",
        raise_exc=False,
    )
    assert unknown.status_code == 404 and "itemNotFound" in unknown.json()
    for volume_id in (clone["id"], source["id"]):
        server.cli("volume", "delete", volume_id)
