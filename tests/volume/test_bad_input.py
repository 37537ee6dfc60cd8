"""Bad input and other projects' resources: Cinder's statuses and error bodies, and nothing
changed afterwards."""

from __future__ import annotations

from typing import Any

import openstack.exceptions as osexc
import pytest

from tests.helpers.isolation import assert_hidden
from tests.volume.conftest import name, wait_status, wait_volume


def _fault(exc: pytest.ExceptionInfo[osexc.HttpException], key: str, code: int) -> str:
    assert exc.value.status_code == code
    body = exc.value.response.json()
    assert list(body) == [key] and body[key]["code"] == code, body
    return str(body[key]["message"])


def _usage(conn: Any) -> tuple[int, int]:
    limits = conn.block_storage.get_limits().absolute
    return limits.total_volumes_used, limits.total_gigabytes_used


@pytest.fixture(scope="module")
def tenant(server: Any, admin: Any) -> Any:
    from tests.helpers.isolation import make_tenant

    return make_tenant(server, admin)


def test_bad_creates_change_nothing(tenant: Any) -> None:
    conn = tenant.conn
    before = _usage(conn), len(list(conn.block_storage.volumes()))
    for size in (-1, 0, "abc", 1.5, True):
        with pytest.raises(osexc.BadRequestException) as info:
            conn.block_storage.create_volume(size=size, name="bad")
        assert "size" in _fault(info, "badRequest", 400)
    with pytest.raises(osexc.NotFoundException) as missing:
        conn.block_storage.create_volume(size=1, volume_type="no-such-type")
    _fault(missing, "itemNotFound", 404)
    with pytest.raises(osexc.BadRequestException) as zone:
        conn.block_storage.create_volume(size=1, availability_zone="no-such-zone")
    assert "no-such-zone" in _fault(zone, "badRequest", 400)
    with pytest.raises(osexc.HttpException) as quota:
        conn.block_storage.create_volume(size=5000)
    assert "gigabytes" in _fault(quota, "overLimit", 413)
    with pytest.raises(osexc.NotFoundException):
        conn.block_storage.create_volume(size=1, snapshot_id="7d3b4a4e-5d57-4d8b-9c8e-3a1f0b2c4d5e")
    assert (_usage(conn), len(list(conn.block_storage.volumes()))) == before


def test_bad_actions_change_nothing(tenant: Any) -> None:
    conn = tenant.conn
    volume = conn.block_storage.create_volume(size=2, name=name("act"))
    wait_volume(conn, volume.id, "available")
    with pytest.raises(osexc.BadRequestException) as smaller:
        conn.block_storage.extend_volume(volume, 1)
    assert "greater than current size" in _fault(smaller, "badRequest", 400)
    snap = conn.block_storage.create_snapshot(volume_id=volume.id, name=name("s"))
    wait_status(conn.block_storage.get_snapshot, snap.id, "available")
    # Revert (3.40) only to the latest snapshot; then the volume is available again.
    with pytest.raises(osexc.BadRequestException):
        conn.block_storage.revert_volume_to_snapshot(volume, "0c6b6d62-2f5e-4b7c-9d55-9b5f44c6b1aa")
    conn.block_storage.revert_volume_to_snapshot(volume, snap)
    wait_volume(conn, volume.id, "available")
    wait_status(conn.block_storage.get_snapshot, snap.id, "available")
    with pytest.raises(osexc.BadRequestException) as busy:
        conn.block_storage.delete_volume(volume)
    _fault(busy, "badRequest", 400)
    # Members may not reset states or force-delete.
    with pytest.raises(osexc.ForbiddenException) as denied:
        conn.block_storage.reset_volume_status(volume, "error", None, None)
    _fault(denied, "forbidden", 403)
    shown = conn.block_storage.get_volume(volume.id)
    assert shown.status == "available" and shown.size == 2
    with pytest.raises(osexc.NotFoundException) as unknown:
        conn.block_storage.get_volume("0c6b6d62-2f5e-4b7c-9d55-9b5f44c6b1aa")
    _fault(unknown, "itemNotFound", 404)
    conn.block_storage.delete_snapshot(snap)
    wait_status(
        lambda i: _maybe(conn.block_storage.find_snapshot(i, ignore_missing=True)), snap.id, "gone"
    )
    conn.block_storage.delete_volume(volume)


class _Gone:
    status = "gone"


def _maybe(found: Any) -> Any:
    return _Gone() if found is None else found


def test_projects_do_not_see_each_other(tenant_factory: Any) -> None:
    owner, other = tenant_factory(), tenant_factory()
    volume = owner.conn.block_storage.create_volume(size=1, name=name("mine"))
    wait_volume(owner.conn, volume.id, "available")
    snap = owner.conn.block_storage.create_snapshot(volume_id=volume.id)
    wait_status(owner.conn.block_storage.get_snapshot, snap.id, "available")
    backup = owner.conn.block_storage.create_backup(volume_id=volume.id, name=name("b"))
    wait_status(owner.conn.block_storage.get_backup, backup.id, "available")
    transfer = owner.conn.block_storage.create_transfer(volume_id=volume.id)
    theirs = other.conn.block_storage
    assert_hidden(
        lambda: theirs.get_volume(volume.id),
        lambda: theirs.delete_volume(volume.id, ignore_missing=False),
        lambda: theirs.extend_volume(volume.id, 5),
        lambda: theirs.get_snapshot(snap.id),
        lambda: theirs.delete_snapshot(snap.id, ignore_missing=False),
        lambda: theirs.get_backup(backup.id),
        lambda: theirs.delete_backup(backup.id, ignore_missing=False),
        lambda: theirs.get_transfer(transfer.id),
        lambda: theirs.create_snapshot(volume_id=volume.id),
        lambda: theirs.create_backup(volume_id=volume.id),
    )
    assert volume.id not in {v.id for v in theirs.volumes()}
    assert snap.id not in {s.id for s in theirs.snapshots()}
    assert backup.id not in {b.id for b in theirs.backups()}
    assert transfer.id not in {t.id for t in theirs.transfers()}
    # Nothing changed for the owner.
    mine = owner.conn.block_storage
    assert mine.get_volume(volume.id).status == "awaiting-transfer"
    assert mine.get_snapshot(snap.id).status == "available"
    assert mine.get_backup(backup.id).status == "available"
    mine.delete_transfer(transfer)
    mine.delete_backup(backup)
    mine.delete_snapshot(snap)
