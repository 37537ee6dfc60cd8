"""The object store through the tools people use: the `swift` command (upload, download,
list, stat, post, segmented uploads with -S), `openstack container`/`object` and
openstacksdk's object store."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import openstack

from tests.helpers.server import Server
from tests.object_store.conftest import swift_cli


def test_swift_cli_upload_download_segments(server: Server, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:6]}"
    src = tmp_path / "src"
    src.mkdir()
    (src / "small.txt").write_text("small file\n")
    big = os.urandom(3 * 1024 * 1024 + 17)
    (src / "big.bin").write_bytes(big)
    swift_cli(server, "upload", name, "small.txt", cwd=src)
    swift_cli(server, "upload", "--use-dlo", "-S", "1048576", name, "big.bin", cwd=src)
    listed = swift_cli(server, "list", name).stdout.split()
    assert listed == ["big.bin", "small.txt"]
    segments = swift_cli(server, "list", f"{name}_segments").stdout.split()
    assert len(segments) == 4
    stat = swift_cli(server, "stat", name, "big.bin").stdout
    assert "Manifest:" in stat and f"Content Length: {len(big)}" in stat
    out = tmp_path / "out"
    out.mkdir()
    swift_cli(server, "download", name, "--output-dir", str(out))
    assert (out / "big.bin").read_bytes() == big
    assert (out / "small.txt").read_text() == "small file\n"
    swift_cli(server, "post", "-m", "Color:green", name, "small.txt")
    assert "Meta Color: green" in swift_cli(server, "stat", name, "small.txt").stdout
    swift_cli(server, "post", "-r", ".r:*", name)
    assert "Read ACL: .r:*" in swift_cli(server, "stat", name).stdout
    # deleting the manifest with the swift command removes its segments too
    swift_cli(server, "delete", name, "big.bin")
    assert swift_cli(server, "list", f"{name}_segments").stdout.split() == []
    account = swift_cli(server, "stat").stdout
    assert "Containers:" in account and "Bytes:" in account


def test_swift_cli_slo_upload(server: Server, tmp_path: Path) -> None:
    name = f"slo-{uuid.uuid4().hex[:6]}"
    data = os.urandom(2 * 1024 * 1024 + 5)
    (tmp_path / "f.bin").write_bytes(data)
    # the swift command makes an SLO when /info advertises it
    swift_cli(server, "upload", "-S", "1048576", name, "f.bin", cwd=tmp_path)
    stat = swift_cli(server, "stat", name, "f.bin").stdout
    assert f"Content Length: {len(data)}" in stat and "X-Static-Large-Object: True" in stat
    assert len(swift_cli(server, "list", f"{name}_segments").stdout.split()) == 3
    swift_cli(server, "download", name, "f.bin", "-o", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    swift_cli(server, "delete", name, "f.bin")
    assert swift_cli(server, "list", f"{name}_segments").stdout.split() == []


def test_openstack_container_and_object_commands(server: Server, tmp_path: Path) -> None:
    name = f"osc-{uuid.uuid4().hex[:6]}"
    server.cli("container", "create", name)
    path = tmp_path / "hello.txt"
    path.write_text("hello from osc\n")
    server.cli("object", "create", name, str(path))
    objects = server.cli_json("object", "list", name)
    assert [o["Name"] for o in objects] == [str(path)]
    shown = server.cli_json("object", "show", name, str(path))
    assert shown["content-length"] == str(len("hello from osc\n"))
    server.cli("container", "set", "--property", "team=blue", name)
    container = server.cli_json("container", "show", name)
    # header names travel in lower case (HTTP does not care; Swift's would be title-cased)
    assert {k.lower(): v for k, v in container["properties"].items()} == {"team": "blue"}
    assert name in [c["Name"] for c in server.cli_json("container", "list")]
    server.cli("object", "save", "--file", str(tmp_path / "back.txt"), name, str(path))
    assert (tmp_path / "back.txt").read_text() == "hello from osc\n"
    server.cli("object", "delete", name, str(path))
    server.cli("container", "delete", name)
    assert name not in [c["Name"] for c in server.cli_json("container", "list")]


def test_openstacksdk_object_store(admin: openstack.connection.Connection) -> None:
    name = f"sdk-{uuid.uuid4().hex[:6]}"
    admin.object_store.create_container(name=name)
    data = os.urandom(100_000)
    admin.object_store.upload_object(container=name, name="blob", data=data)
    assert admin.object_store.download_object("blob", container=name) == data
    obj = admin.object_store.get_object_metadata("blob", container=name)
    assert obj.etag == hashlib.md5(data).hexdigest()
    admin.object_store.set_object_metadata("blob", container=name, owner="me")
    assert admin.object_store.get_object_metadata("blob", container=name).metadata == {
        "owner": "me"
    }
    assert [o.name for o in admin.object_store.objects(name)] == ["blob"]
    admin.object_store.delete_object("blob", container=name)
    admin.object_store.delete_container(name)
    info = admin.object_store.get_info()
    assert info.swift["max_file_size"] > 0
