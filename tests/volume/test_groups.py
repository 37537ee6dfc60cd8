"""Generic volume groups through the openstack CLI (`volume group ...` with
--os-volume-api-version) and openstacksdk: group types and specs, groups with volumes, group
snapshots, groups from a snapshot or another group, reset status, and the refusals."""

from __future__ import annotations

from typing import Any

import openstack
import pytest

from tests.helpers.server import Server
from tests.volume.conftest import name, wait_gone, wait_status, wait_volume


def cli(server: Server, version: str, *args: str, **kw: Any) -> Any:
    """The command's JSON, with the CLI's column names ("ID", "Volume Types") as the API's."""
    found = server.cli_json("--os-volume-api-version", version, "volume", *args, **kw)

    def api(row: dict[str, Any]) -> dict[str, Any]:
        return {k.lower().replace(" ", "_"): v for k, v in row.items()}

    return [api(r) for r in found] if isinstance(found, list) else api(found)


def run(server: Server, version: str, *args: str, **kw: Any) -> Any:
    return server.cli("--os-volume-api-version", version, "volume", *args, **kw)


def _group_gone(conn: openstack.connection.Connection, group_id: str) -> Any:
    class Gone:
        status = "gone"

    try:
        return conn.block_storage.get_group(group_id)
    except openstack.exceptions.NotFoundException:
        return Gone()


@pytest.fixture(scope="module")
def group_type(server: Server) -> dict[str, Any]:
    gtype = cli(server, "3.11", "group", "type", "create", name("gt"))
    run(
        server,
        "3.11",
        "group",
        "type",
        "set",
        "--property",
        "consistent_group_snapshot_enabled=<is> True",
        gtype["id"],
    )
    return cli(server, "3.11", "group", "type", "show", gtype["id"])


def test_group_types_and_specs(server: Server, group_type: dict[str, Any], demo: Any) -> None:
    assert group_type["properties"] == {"consistent_group_snapshot_enabled": "<is> True"}
    listed = cli(server, "3.11", "group", "type", "list")
    assert group_type["id"] in [t["id"] for t in listed]
    renamed = name("gt2")
    run(
        server,
        "3.11",
        "group",
        "type",
        "set",
        "--name",
        renamed,
        "--description",
        "d",
        group_type["id"],
    )
    shown = cli(server, "3.11", "group", "type", "show", group_type["id"])
    assert shown["name"] == renamed and shown["description"] == "d"
    # Below 3.11 there are no group types; a member cannot manage them.
    refused = run(server, "3.10", "group", "type", "list", check=False)
    assert refused.returncode != 0
    with pytest.raises(openstack.exceptions.ForbiddenException):
        demo.block_storage.create_group_type(name=name("gtx"))
    bad = run(server, "3.11", "group", "type", "create", renamed, check=False)
    assert bad.returncode != 0 and "already exists" in bad.stderr


def test_group_lifecycle(server: Server, admin: Any, group_type: dict[str, Any]) -> None:
    gname = name("g")
    group = cli(
        server,
        "3.13",
        "group",
        "create",
        "--volume-group-type",
        group_type["id"],
        "--volume-type",
        "__DEFAULT__",
        "--name",
        gname,
    )
    group = wait_status(admin.block_storage.get_group, group["id"], "available")
    assert group.group_type == group_type["id"] and len(group.volume_types) == 1

    members = []
    for _ in range(2):
        v = admin.block_storage.create_volume(size=1, name=name("gv"), group_id=group.id)
        members.append(wait_volume(admin, v.id, "available"))
    assert all(m.group_id == group.id for m in members)
    outside = wait_volume(
        admin, admin.block_storage.create_volume(size=1, name=name("o")).id, "available"
    )

    run(server, "3.13", "group", "add", "volume", group.id, outside.id)
    shown = admin.block_storage.get_group(group.id)
    assert admin.block_storage.get_volume(outside.id).group_id == group.id
    run(server, "3.13", "group", "remove", "volume", group.id, outside.id)
    assert admin.block_storage.get_volume(outside.id).group_id is None
    run(server, "3.13", "group", "set", "--name", f"{gname}-x", group.id)
    shown = cli(server, "3.25", "group", "show", "--volumes", group.id)
    assert shown["name"] == f"{gname}-x"
    assert sorted(shown["volumes"]) == sorted(m.id for m in members)
    assert f"{gname}-x" in [g["name"] for g in cli(server, "3.13", "group", "list")]

    # A group snapshot: one snapshot per volume, taken together.
    gsnap = cli(server, "3.14", "group", "snapshot", "create", "--name", name("gs"), group.id)
    wait_status(admin.block_storage.get_group_snapshot, gsnap["id"], "available")
    snaps = [
        s for s in admin.block_storage.snapshots(details=True) if s.group_snapshot_id == gsnap["id"]
    ]
    assert len(snaps) == 2 and all(s.status == "available" for s in snaps)
    # Its snapshots go with it, not one by one; the group cannot go while it has snapshots.
    with pytest.raises(openstack.exceptions.BadRequestException):
        admin.block_storage.delete_snapshot(snaps[0].id)
    refused = run(server, "3.13", "group", "delete", "--force", group.id, check=False)
    assert refused.returncode != 0

    from_snap = cli(
        server, "3.14", "group", "create", "--group-snapshot", gsnap["id"], "--name", name("gfs")
    )
    from_snap_group = wait_status(admin.block_storage.get_group, from_snap["id"], "available")
    from_group = cli(
        server, "3.14", "group", "create", "--source-group", group.id, "--name", name("gfg")
    )
    wait_status(admin.block_storage.get_group, from_group["id"], "available")
    for made in (from_snap_group.id, from_group["id"]):
        copies = [v for v in admin.block_storage.volumes(group_id=made)]
        assert len(copies) == 2 and all(v.status == "available" for v in copies)

    # reset status (3.20), then a group with volumes goes only with --force (delete-volumes).
    run(server, "3.20", "group", "set", "--name", "keep", from_group["id"])
    admin.block_storage.reset_group_status(from_group["id"], "error")
    assert admin.block_storage.get_group(from_group["id"]).status == "error"
    refused = run(server, "3.13", "group", "delete", from_group["id"], check=False)
    assert refused.returncode != 0 and "delete-volumes" in refused.stderr
    assert admin.block_storage.get_group(from_group["id"]).status == "error"
    for made in (from_snap_group.id, from_group["id"]):
        run(server, "3.13", "group", "delete", "--force", made)
        wait_status(lambda i: _group_gone(admin, i), made, "gone")

    run(server, "3.14", "group", "snapshot", "delete", gsnap["id"])
    wait_status(lambda i: _group_gone_snapshot(admin, i), gsnap["id"], "gone")
    assert all(admin.block_storage.find_snapshot(s.id, ignore_missing=True) is None for s in snaps)
    run(server, "3.13", "group", "delete", "--force", group.id)
    wait_status(lambda i: _group_gone(admin, i), group.id, "gone")
    for m in members:
        wait_gone(admin, m.id)
    admin.block_storage.delete_volume(outside.id)
    # A group type in use cannot be deleted; once unused it can.
    run(server, "3.11", "group", "type", "delete", group_type["id"])


def _group_gone_snapshot(conn: openstack.connection.Connection, gsnap_id: str) -> Any:
    class Gone:
        status = "gone"

    try:
        return conn.block_storage.get_group_snapshot(gsnap_id)
    except openstack.exceptions.NotFoundException:
        return Gone()


def test_group_bad_input(server: Server, admin: Any, tenant_factory: Any) -> None:
    bs = admin.block_storage
    gtype = bs.create_group_type(name=name("gtb"))
    with pytest.raises(openstack.exceptions.NotFoundException):
        bs.create_group(
            group_type="00000000-0000-0000-0000-000000000000", volume_types=["__DEFAULT__"]
        )
    with pytest.raises(openstack.exceptions.NotFoundException):
        bs.create_group(group_type=gtype.id, volume_types=["no-such-type"])
    with pytest.raises(openstack.exceptions.BadRequestException):
        bs.create_group(group_type=gtype.id)
    with pytest.raises(openstack.exceptions.BadRequestException):
        bs.create_group(group_type=gtype.id, volume_types="__DEFAULT__")
    with pytest.raises(openstack.exceptions.BadRequestException):
        bs.create_group(group_type=gtype.id, volume_types=["__DEFAULT__"], name=7)
    group = wait_status(
        bs.get_group,
        bs.create_group(group_type=gtype.id, volume_types=["__DEFAULT__"]).id,
        "available",
    )
    # A volume of a type the group does not take; an unknown volume added.
    other_type = bs.create_type(name=name("vt"))
    with pytest.raises(openstack.exceptions.BadRequestException):
        bs.create_volume(size=1, volume_type=other_type.id, group_id=group.id)
    with pytest.raises(openstack.exceptions.BadRequestException):
        bs.update_group(group, add_volumes="00000000-0000-0000-0000-000000000000")
    with pytest.raises(openstack.exceptions.NotFoundException):
        bs.get_group("00000000-0000-0000-0000-000000000000")

    # Another project sees none of it and cannot touch it.
    tenant = tenant_factory()
    theirs = tenant.conn.block_storage
    with pytest.raises(openstack.exceptions.NotFoundException):
        theirs.get_group(group.id)
    with pytest.raises(openstack.exceptions.NotFoundException):
        theirs.delete_group(group.id, ignore_missing=False)
    with pytest.raises(openstack.exceptions.NotFoundException):
        theirs.create_group_snapshot(group_id=group.id)
    assert group.id not in [g.id for g in theirs.groups()]
    # Its own volume cannot join another project's group.
    mine = wait_volume(tenant.conn, theirs.create_volume(size=1).id, "available")
    with pytest.raises(openstack.exceptions.NotFoundException):
        theirs.update_group(group.id, add_volumes=mine.id)
    with pytest.raises(openstack.exceptions.BadRequestException):
        bs.update_group(group, add_volumes=mine.id)
    assert bs.get_volume(mine.id).group_id is None
    with pytest.raises(openstack.exceptions.BadRequestException):
        bs.reset_group_status(group.id, "sideways")
    with pytest.raises(openstack.exceptions.ForbiddenException):
        theirs.create_group_type(name=name("x"))

    bs.delete_group(group)
    wait_status(lambda i: _group_gone(admin, i), group.id, "gone")
    theirs.delete_volume(mine.id)
    bs.delete_type(other_type)
    bs.delete_group_type(gtype)
