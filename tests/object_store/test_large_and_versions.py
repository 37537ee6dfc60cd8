"""Static and dynamic large objects (segment checks, ranges across segments), object
versioning in both modes, and quotas."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
import swiftclient
from swiftclient import ClientException


def status_of(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(ClientException) as info:
        call()
    return int(info.value.http_status), str(info.value.http_response_content)


def test_slo_checks_segments_and_reads_across_them(
    swift: swiftclient.Connection, container: str
) -> None:
    swift.put_object(container, "seg/1", b"a" * 1000)
    etag2 = swift.put_object(container, "seg/2", b"b" * 500)
    manifest = [
        {"path": f"/{container}/seg/1", "size_bytes": 1000},
        {"path": f"/{container}/seg/2", "etag": etag2},
    ]
    swift.put_object(container, "big", json.dumps(manifest), query_string="multipart-manifest=put")
    headers, body = swift.get_object(container, "big")
    assert body == b"a" * 1000 + b"b" * 500
    assert headers["content-length"] == "1500" and headers["x-static-large-object"] == "True"
    _h, part = swift.get_object(container, "big", headers={"Range": "bytes=995-1004"})
    assert part == b"aaaaabbbbb"
    raw = json.loads(swift.get_object(container, "big", query_string="multipart-manifest=get")[1])
    assert [s["name"] for s in raw] == [f"/{container}/seg/1", f"/{container}/seg/2"]
    listing = {o["name"]: o for o in swift.get_container(container)[1]}
    assert listing["big"]["bytes"] > 0
    # a manifest naming a missing segment, or a wrong size, stores nothing
    bad = [{"path": f"/{container}/seg/none"}, {"path": f"/{container}/seg/1", "size_bytes": 3}]
    status, body_text = status_of(
        lambda: swift.put_object(
            container, "bad", json.dumps(bad), query_string="multipart-manifest=put"
        )
    )
    assert status == 400 and "404 Not Found" in body_text and "Size Mismatch" in body_text
    assert status_of(lambda: swift.head_object(container, "bad"))[0] == 404
    assert (
        status_of(
            lambda: swift.put_object(
                container, "bad", "not json", query_string="multipart-manifest=put"
            )
        )[0]
        == 400
    )
    swift.delete_object(container, "big", query_string="multipart-manifest=delete")
    assert [o["name"] for o in swift.get_container(container)[1]] == []


def test_dlo_concatenates_prefix(swift: swiftclient.Connection, container: str) -> None:
    for n in range(3):
        swift.put_object(container, f"parts/{n:02d}", str(n).encode() * 3)
    swift.put_object(container, "whole", b"", headers={"X-Object-Manifest": f"{container}/parts/"})
    headers, body = swift.get_object(container, "whole")
    assert body == b"000111222" and headers["x-object-manifest"] == f"{container}/parts/"
    assert headers["etag"].startswith('"')
    swift.put_object(container, "parts/03", b"3")
    assert swift.get_object(container, "whole")[1] == b"0001112223"


def test_versions_stack_and_history(swift: swiftclient.Connection) -> None:
    name = f"ver-{uuid.uuid4().hex[:6]}"
    archive = f"{name}-archive"
    swift.put_container(archive)
    swift.put_container(name, headers={"X-Versions-Location": archive})
    for n in range(3):
        swift.put_object(name, "doc", f"v{n}".encode())
    assert len(swift.get_container(archive)[1]) == 2
    swift.delete_object(name, "doc")
    assert swift.get_object(name, "doc")[1] == b"v1"  # the previous version is back
    swift.delete_object(name, "doc")
    assert swift.get_object(name, "doc")[1] == b"v0"
    swift.delete_object(name, "doc")
    assert status_of(lambda: swift.get_object(name, "doc"))[0] == 404

    hist = f"hist-{uuid.uuid4().hex[:6]}"
    swift.put_container(hist, headers={"X-History-Location": archive})
    swift.put_object(hist, "x", b"one")
    swift.put_object(hist, "x", b"two")
    swift.delete_object(hist, "x")
    assert status_of(lambda: swift.get_object(hist, "x"))[0] == 404
    kept = [o["name"] for o in swift.get_container(archive, prefix="001x/")[1]]
    assert len(kept) == 2
    assert (
        status_of(
            lambda: swift.post_container(
                hist, {"X-Versions-Location": "a", "X-History-Location": "b"}
            )
        )[0]
        == 400
    )


def test_container_quotas(swift: swiftclient.Connection, container: str) -> None:
    swift.post_container(
        container, {"X-Container-Meta-Quota-Count": "2", "X-Container-Meta-Quota-Bytes": "10"}
    )
    swift.put_object(container, "a", b"12345")
    assert status_of(lambda: swift.put_object(container, "b", b"123456"))[0] == 413
    swift.put_object(container, "b", b"1")
    assert status_of(lambda: swift.put_object(container, "c", b"1"))[0] == 413
    assert [o["name"] for o in swift.get_container(container)[1]] == ["a", "b"]
    assert (
        status_of(
            lambda: swift.post_container(container, {"X-Container-Meta-Quota-Bytes": "lots"})
        )[0]
        == 400
    )


def test_account_quota_needs_reseller(swift: swiftclient.Connection) -> None:
    assert status_of(lambda: swift.post_account({"X-Account-Meta-Quota-Bytes": "10"}))[0] == 403


def test_bulk_delete_and_archive_extraction(
    server, swift: swiftclient.Connection, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import io
    import tarfile

    from tests.object_store.conftest import swift_cli

    name = f"bulk-{uuid.uuid4().hex[:6]}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, data in (
            ("docs/a.txt", b"alpha"),
            ("docs/sub/b.txt", b"beta"),
            ("c.bin", b"\x00\x01"),
        ):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    resp: dict = {}
    swift.put_container(name)
    body = swift.put_object(
        name,
        "",
        buffer.getvalue(),
        query_string="extract-archive=tar.gz",
        headers={"Accept": "application/json"},
        response_dict=resp,
    )
    del body
    listed = sorted(o["name"] for o in swift.get_container(name)[1])
    assert listed == ["c.bin", "docs/a.txt", "docs/sub/b.txt"]
    assert swift.get_object(name, "docs/sub/b.txt")[1] == b"beta"
    # a broken archive creates nothing
    status, _text = status_of(
        lambda: swift.put_object(name, "", b"not a tarball", query_string="extract-archive=tar.gz")
    )
    assert status == 400
    # the swift command deletes a container's objects and the container with bulk deletes
    swift_cli(server, "delete", name)
    assert status_of(lambda: swift.head_container(name))[0] == 404


def test_symlinks(swift: swiftclient.Connection, container: str, tenant_swift) -> None:  # type: ignore[no-untyped-def]
    swift.put_object(container, "target", b"pointed at", headers={"X-Object-Meta-T": "1"})
    swift.put_object(container, "link", b"", headers={"X-Symlink-Target": f"{container}/target"})
    headers, body = swift.get_object(container, "link")
    assert body == b"pointed at" and headers["x-object-meta-t"] == "1"
    assert headers["content-location"].endswith(f"/{container}/target")
    raw_headers, raw = swift.get_object(container, "link", query_string="symlink=get")
    assert raw == b"" and raw_headers["x-symlink-target"] == f"{container}/target"
    swift.put_object(container, "link2", b"", headers={"X-Symlink-Target": f"{container}/link"})
    assert swift.get_object(container, "link2")[1] == b"pointed at"
    swift.put_object(container, "loop-a", b"", headers={"X-Symlink-Target": f"{container}/loop-b"})
    swift.put_object(container, "loop-b", b"", headers={"X-Symlink-Target": f"{container}/loop-a"})
    assert status_of(lambda: swift.get_object(container, "loop-a"))[0] == 409
    swift.put_object(container, "dangling", b"", headers={"X-Symlink-Target": f"{container}/none"})
    assert status_of(lambda: swift.get_object(container, "dangling"))[0] == 404
    assert (
        status_of(
            lambda: swift.put_object(
                container, "bad", b"x", headers={"X-Symlink-Target": f"{container}/t"}
            )
        )[0]
        == 400
    )
    assert (
        status_of(
            lambda: swift.put_object(
                container, "bad", b"", headers={"X-Symlink-Target": "nocontainer"}
            )
        )[0]
        == 412
    )
    # a link in a shared container does not open a private one
    private = f"priv-{uuid.uuid4().hex[:6]}"
    swift.put_container(private)
    swift.put_object(private, "secret", b"s")
    tenant, theirs = tenant_swift()
    swift.post_container(
        container,
        {
            "X-Container-Read": f"{tenant.project_id}:*",
            "X-Container-Write": f"{tenant.project_id}:*",
        },
    )
    url, _ = swift.get_auth()
    guest = swiftclient.Connection(preauthurl=url, preauthtoken=theirs.get_auth()[1], retries=0)
    guest.put_object(container, "sneaky", b"", headers={"X-Symlink-Target": f"{private}/secret"})
    assert status_of(lambda: guest.get_object(container, "sneaky"))[0] == 403
    # nor does a hand-made SLO manifest
    manifest = json.dumps([{"name": f"/{private}/secret", "hash": "x", "bytes": 1}])
    assert (
        status_of(
            lambda: guest.put_object(
                container, "fake", manifest, headers={"X-Static-Large-Object": "True"}
            )
        )[0]
        == 400
    )
    real = json.dumps([{"path": f"/{private}/secret"}])
    assert (
        status_of(
            lambda: guest.put_object(container, "fake", real, query_string="multipart-manifest=put")
        )[0]
        == 403
    )


def test_cors(swift: swiftclient.Connection, container: str) -> None:
    import httpx

    url, token = swift.get_auth()
    swift.put_object(container, "page", b"<p>cors</p>")
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    assert httpx.options(f"{url}/{container}/page", headers=preflight).status_code == 401
    swift.post_container(
        container,
        {
            "X-Container-Meta-Access-Control-Allow-Origin": "https://app.example",
            "X-Container-Meta-Access-Control-Max-Age": "60",
        },
    )
    ok = httpx.options(f"{url}/{container}/page", headers=preflight)
    assert (
        ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://app.example"
    )
    assert ok.headers["access-control-max-age"] == "60"
    other = httpx.options(
        f"{url}/{container}/page", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert other.status_code == 401
    got = httpx.get(
        f"{url}/{container}/page", headers={"X-Auth-Token": token, "Origin": "https://app.example"}
    )
    assert got.headers["access-control-allow-origin"] == "https://app.example"
    assert "etag" in got.headers["access-control-expose-headers"]
    plain = httpx.get(f"{url}/{container}/page", headers={"X-Auth-Token": token})
    assert "access-control-allow-origin" not in plain.headers
