"""Moving volumes between two `file` back ends (a fast qcow2 directory and a slow raw one):
retype with `migration_policy` on-demand/never, and admins' `os-migrate_volume`. The data a
"guest" wrote (qemu-io on the file) is read back from the destination."""

from __future__ import annotations

from pathlib import Path

import openstack
import pytest

from tests.helpers.server import Server
from tests.volume.conftest import holds, name, wait_migrated, wait_volume, write


def test_retype_moves_data_between_back_ends(cloud: Server) -> None:
    admin = cloud.connect()
    bs = admin.block_storage
    fast = bs.create_type(name=name("fast"), extra_specs={"volume_backend_name": "fast"})
    slow = bs.create_type(name=name("slow"), extra_specs={"volume_backend_name": "slow"})
    volume = wait_volume(admin, bs.create_volume(size=1, volume_type=fast.id).id, "available")
    assert volume.host.endswith("@fast#fast")
    tiers: Path = cloud.tiers  # type: ignore[attr-defined]
    source = tiers / "fast" / f"volume-{volume.id}"
    write(source, "qcow2", "0x5a")

    # migration_policy never: 400, nothing changes.
    refused = cloud.cli(
        "volume", "set", "--type", slow.name, "--migration-policy", "never", volume.id, check=False
    )
    assert refused.returncode != 0
    kept = bs.get_volume(volume.id)
    assert kept.volume_type == fast.name and kept.status == "available"

    cloud.cli("volume", "set", "--type", slow.name, "--migration-policy", "on-demand", volume.id)
    moved = wait_migrated(admin, volume.id)
    assert moved.migration_status == "success" and moved.status == "available"
    assert moved.volume_type == slow.name and moved.host.endswith("@slow#slow")
    target = tiers / "slow" / f"volume-{volume.id}"
    assert not source.exists() and holds(target, "raw", "0x5a")

    # An admin moves it back (os-migrate_volume); a member may not; bad hosts answer 400.
    demo = cloud.connect("overcast-demo")
    with pytest.raises(openstack.exceptions.HttpException):
        demo.block_storage.migrate_volume(volume.id, host=moved.host)
    for host in (moved.host, "nowhere@nothing#x"):
        with pytest.raises(openstack.exceptions.BadRequestException):
            bs.migrate_volume(volume.id, host=host)
    # Its type asks for the slow back end: a move to the fast one ends in `error`, in place.
    fast_pool = moved.host.replace("@slow#slow", "@fast#fast")
    bs.migrate_volume(volume.id, host=fast_pool)
    stayed = wait_migrated(admin, volume.id)
    assert stayed.migration_status == "error" and stayed.host == moved.host
    assert stayed.status == "available" and holds(target, "raw", "0x5a")

    # A volume of a type any back end takes moves where the admin says, its data with it.
    free = wait_volume(admin, bs.create_volume(size=1).id, "available")
    here, there = ("fast", "slow") if free.host.endswith("#fast") else ("slow", "fast")
    fmt = {"fast": "qcow2", "slow": "raw"}
    write(tiers / here / f"volume-{free.id}", fmt[here], "0x33")
    bs.migrate_volume(free.id, host=free.host.replace(f"@{here}#{here}", f"@{there}#{there}"))
    went = wait_migrated(admin, free.id)
    assert went.migration_status == "success" and went.host.endswith(f"@{there}#{there}")
    assert holds(tiers / there / f"volume-{free.id}", fmt[there], "0x33")
    assert not (tiers / here / f"volume-{free.id}").exists()
    bs.delete_volume(free.id)

    # A volume with snapshots does not move; nor does one already in its place's type.
    snap = bs.create_snapshot(volume_id=volume.id, name=name("s"))
    bs.wait_for_status(snap, "available", interval=0.1)
    with pytest.raises(openstack.exceptions.BadRequestException):
        bs.retype_volume(volume.id, fast.name, migration_policy="on-demand")
    assert bs.get_volume(volume.id).volume_type == slow.name
    bs.delete_snapshot(snap)
    bs.wait_for_delete(snap, interval=0.1)
    with pytest.raises(openstack.exceptions.BadRequestException):
        bs.retype_volume(volume.id, slow.name)
    bs.delete_volume(volume.id)
