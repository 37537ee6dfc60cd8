"""Accounts, containers and objects through python-swiftclient's Python API: metadata,
listings and their parameters, ranges, conditionals, copies, expiry and the errors Swift
gives for bad input (each leaving nothing behind)."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
import swiftclient
from swiftclient import ClientException

from overcast.object_store.s3 import multipart
from tests.helpers.server import Server


def status_of(call) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientException) as info:
        call()
    return int(info.value.http_status)


def test_info_advertises_limits(server: Server) -> None:
    info = httpx.get(server.url + "/object-store/info").json()
    assert info["swift"]["max_file_size"] == 5368709122
    assert info["swift"]["max_meta_count"] == 90
    assert "slo" in info and "dlo" in info
    # exactly what is implemented: each of these has its tests; nothing else is claimed
    assert set(info) == {
        "swift",
        "keystoneauth",
        "account_quotas",
        "container_quotas",
        "dlo",
        "slo",
        "bulk_delete",
        "bulk_upload",
        "container_sync",
        "crossdomain",
        "formpost",
        "staticweb",
        "tempurl",
        "s3api",
        "symlink",
        "versioned_writes",
    }
    assert info["s3api"]["max_parts_listing"] == multipart.MAX_LISTED


def test_trans_id_on_every_response(swift: swiftclient.Connection, container: str) -> None:
    headers = swift.head_container(container)
    assert re.fullmatch(r"tx[0-9a-f]{21}-[0-9a-f]{10}", headers["x-trans-id"])
    with pytest.raises(ClientException) as info:
        swift.get_object(container, "missing")
    assert info.value.http_status == 404
    assert re.fullmatch(
        r"tx[0-9a-f]{21}-[0-9a-f]{10}", info.value.http_response_headers["x-trans-id"]
    )


def test_object_round_trip_and_metadata(swift: swiftclient.Connection, container: str) -> None:
    data = b"hello object store"
    etag = swift.put_object(
        container, "dir/hello.txt", data, headers={"X-Object-Meta-Color": "blue"}
    )
    assert etag == hashlib.md5(data).hexdigest()
    headers, body = swift.get_object(container, "dir/hello.txt")
    assert body == data
    assert headers["content-type"] == "text/plain"  # detected from the name
    assert headers["x-object-meta-color"] == "blue"
    assert headers["etag"] == etag
    swift.post_object(container, "dir/hello.txt", {"X-Object-Meta-Size": "large"})
    headers = swift.head_object(container, "dir/hello.txt")
    assert headers["x-object-meta-size"] == "large"
    assert "x-object-meta-color" not in headers  # a POST replaces the user metadata
    swift.delete_object(container, "dir/hello.txt")
    assert status_of(lambda: swift.head_object(container, "dir/hello.txt")) == 404
    assert status_of(lambda: swift.delete_object(container, "dir/hello.txt")) == 404


def test_usage_headers_follow_writes(swift: swiftclient.Connection, container: str) -> None:
    swift.put_object(container, "a", b"x" * 10)
    swift.put_object(container, "b", b"y" * 5)
    swift.put_object(container, "a", b"z" * 3)  # an overwrite counts once
    headers = swift.head_container(container)
    assert headers["x-container-object-count"] == "2"
    assert headers["x-container-bytes-used"] == "8"
    account = swift.head_account()
    assert int(account["x-account-object-count"]) >= 2
    listing = {c["name"]: c for c in swift.get_account()[1]}
    assert listing[container]["count"] == 2 and listing[container]["bytes"] == 8


def test_listing_parameters(swift: swiftclient.Connection, container: str) -> None:
    names = ["a/1", "a/2", "a/b/3", "b", "c/4", "d"]
    for name in names:
        swift.put_object(container, name, b"")
    listed = lambda **kw: [  # noqa: E731
        o.get("name", o.get("subdir")) for o in swift.get_container(container, **kw)[1]
    ]
    assert listed() == names
    assert listed(prefix="a/") == ["a/1", "a/2", "a/b/3"]
    assert listed(delimiter="/") == ["a/", "b", "c/", "d"]
    assert listed(prefix="a/", delimiter="/") == ["a/1", "a/2", "a/b/"]
    assert listed(path="a") == ["a/1", "a/2", "a/b/"]
    assert listed(marker="a/2") == ["a/b/3", "b", "c/4", "d"]
    assert listed(end_marker="b") == ["a/1", "a/2", "a/b/3"]
    assert listed(limit=2) == ["a/1", "a/2"]
    assert listed(headers={}, query_string="reverse=true") == names[::-1]
    assert listed(query_string="reverse=on&marker=c/4") == ["b", "a/b/3", "a/2", "a/1"]
    assert listed(delimiter="/", query_string="reverse=true") == ["d", "c/", "b", "a/"]
    _h, entries = swift.get_container(container, prefix="d")
    assert entries[0]["bytes"] == 0 and entries[0]["hash"] == hashlib.md5(b"").hexdigest()


def test_listing_formats(server: Server, swift: swiftclient.Connection, container: str) -> None:
    swift.put_object(container, "x<y>", b"1")
    url, token = swift.get_auth()
    headers = {"X-Auth-Token": token}
    plain = httpx.get(f"{url}/{container}", headers=headers)
    assert plain.text == "x<y>\n" and plain.headers["content-type"].startswith("text/plain")
    xml = httpx.get(f"{url}/{container}?format=xml", headers=headers)
    assert "<name>x&lt;y&gt;</name>" in xml.text and xml.text.startswith("<?xml")
    as_json = httpx.get(f"{url}/{container}", headers={**headers, "Accept": "application/json"})
    assert json.loads(as_json.text)[0]["name"] == "x<y>"
    empty = httpx.get(f"{url}/{container}?prefix=nothing", headers=headers)
    assert empty.status_code == 204


def test_ranges(swift: swiftclient.Connection, container: str) -> None:
    data = bytes(range(256)) * 400  # over the small-object size, so it streams
    swift.put_object(container, "r", data)
    headers, body = swift.get_object(container, "r", headers={"Range": "bytes=10-19"})
    assert body == data[10:20] and headers["content-range"] == f"bytes 10-19/{len(data)}"
    _h, body = swift.get_object(container, "r", headers={"Range": "bytes=-5"})
    assert body == data[-5:]
    headers, body = swift.get_object(container, "r", headers={"Range": "bytes=0-1,100-101"})
    assert headers["content-type"].startswith("multipart/byteranges")
    assert data[0:2] in body and data[100:102] in body
    assert (
        status_of(
            lambda: swift.get_object(container, "r", headers={"Range": f"bytes={len(data)}-"})
        )
        == 416
    )
    swift.put_object(container, "small", b"0123456789")
    _h, body = swift.get_object(container, "small", headers={"Range": "bytes=2-4"})
    assert body == b"234"


def test_conditionals(swift: swiftclient.Connection, container: str) -> None:
    etag = swift.put_object(container, "c", b"data")
    assert swift.get_object(container, "c", headers={"If-Match": etag})[1] == b"data"
    assert status_of(lambda: swift.get_object(container, "c", headers={"If-Match": "nope"})) == 412
    headers = swift.head_object(container, "c")
    last = headers["last-modified"]
    assert (
        status_of(lambda: swift.get_object(container, "c", headers={"If-None-Match": etag})) == 304
    )
    assert (
        status_of(lambda: swift.get_object(container, "c", headers={"If-Modified-Since": last}))
        == 304
    )
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert (
        status_of(lambda: swift.get_object(container, "c", headers={"If-Unmodified-Since": old}))
        == 412
    )
    # If-None-Match: * on PUT refuses to overwrite
    assert (
        status_of(lambda: swift.put_object(container, "c", b"new", headers={"If-None-Match": "*"}))
        == 412
    )
    assert swift.get_object(container, "c")[1] == b"data"
    swift.put_object(container, "fresh", b"1", headers={"If-None-Match": "*"})


def test_etag_mismatch_stores_nothing(swift: swiftclient.Connection, container: str) -> None:
    assert status_of(lambda: swift.put_object(container, "e", b"data", etag="0" * 32)) == 422
    big = b"b" * 200_000
    assert status_of(lambda: swift.put_object(container, "e2", big, etag="0" * 32)) == 422
    assert status_of(lambda: swift.head_object(container, "e")) == 404
    assert status_of(lambda: swift.head_object(container, "e2")) == 404
    assert swift.get_container(container)[1] == []


def test_chunked_upload(swift: swiftclient.Connection, container: str) -> None:
    parts = [b"a" * 70_000, b"b" * 70_000, b"c"]
    swift.put_object(container, "chunked.bin", iter(parts))
    headers, body = swift.get_object(container, "chunked.bin")
    assert body == b"".join(parts)
    assert headers["content-type"] == "application/octet-stream"
    assert swift.head_container(container)["x-container-bytes-used"] == str(len(body))


def test_copy_and_copy_from(swift: swiftclient.Connection, container: str) -> None:
    swift.put_object(container, "src", b"copy me", headers={"X-Object-Meta-A": "1"})
    swift.copy_object(container, "src", f"/{container}/dst", headers={"X-Object-Meta-B": "2"})
    headers, body = swift.get_object(container, "dst")
    assert (
        body == b"copy me"
        and headers["x-object-meta-a"] == "1"
        and headers["x-object-meta-b"] == "2"
    )
    swift.put_object(container, "dst2", b"", headers={"X-Copy-From": f"{container}/src"})
    assert swift.get_object(container, "dst2")[1] == b"copy me"
    assert (
        status_of(
            lambda: swift.put_object(
                container, "dst3", b"", headers={"X-Copy-From": f"{container}/none"}
            )
        )
        == 404
    )


def test_delete_after_expires(swift: swiftclient.Connection, container: str) -> None:
    # Long enough that the object is still there for the HEAD however loaded the machine is.
    swift.put_object(container, "short", b"x", headers={"X-Delete-After": "4"})
    delete_at = int(swift.head_object(container, "short")["x-delete-at"])
    time.sleep(max(0.0, delete_at - time.time()) + 1.1)
    assert status_of(lambda: swift.get_object(container, "short")) == 404
    assert (
        status_of(
            lambda: swift.put_object(container, "past", b"x", headers={"X-Delete-At": "1000"})
        )
        == 400
    )


def test_bad_names_and_metadata(swift: swiftclient.Connection, container: str) -> None:
    assert status_of(lambda: swift.put_object(container, "n" * 1025, b"")) == 400
    assert status_of(lambda: swift.put_container("c" * 257)) == 400
    too_long = {"X-Object-Meta-K": "v" * 257}
    assert status_of(lambda: swift.put_object(container, "m", b"", headers=too_long)) == 400
    too_many = {f"X-Object-Meta-K{i}": "v" for i in range(91)}
    assert status_of(lambda: swift.put_object(container, "m", b"", headers=too_many)) == 400
    assert (
        status_of(lambda: swift.post_container(container, {"X-Container-Meta-Big": "v" * 257}))
        == 400
    )
    assert status_of(lambda: swift.put_object("no-such-container", "o", b"")) == 404
    assert swift.get_container(container)[1] == []


def test_length_lies_and_non_utf8(
    server: Server, swift: swiftclient.Connection, container: str
) -> None:
    url, token = swift.get_auth()
    bad = httpx.put(f"{url}/{container}/%FF%FE", headers={"X-Auth-Token": token}, content=b"")
    assert bad.status_code == 412
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    conn.putrequest("PUT", f"{urlsplit(url).path}/{container}/nolength")
    conn.putheader("X-Auth-Token", token)
    conn.endheaders()
    assert conn.getresponse().status == 411
    conn.close()
    assert swift.get_container(container)[1] == []


def test_container_lifecycle(swift: swiftclient.Connection) -> None:
    name = f"life-{uuid.uuid4().hex[:6]}"
    resp: dict = {}
    swift.put_container(name, headers={"X-Container-Meta-Team": "red"}, response_dict=resp)
    assert resp["status"] == 201
    swift.put_container(name, response_dict=resp)
    assert resp["status"] == 202
    swift.post_container(name, {"X-Remove-Container-Meta-Team": "x", "X-Container-Meta-New": "1"})
    headers = swift.head_container(name)
    assert "x-container-meta-team" not in headers and headers["x-container-meta-new"] == "1"
    swift.put_object(name, "o", b"1")
    assert status_of(lambda: swift.delete_container(name)) == 409
    swift.delete_object(name, "o")
    swift.delete_container(name)
    assert status_of(lambda: swift.head_container(name)) == 404


def test_account_metadata_and_methods(server: Server, swift: swiftclient.Connection) -> None:
    swift.post_account({"X-Account-Meta-Owner": "ops"})
    assert swift.head_account()["x-account-meta-owner"] == "ops"
    url, token = swift.get_auth()
    assert httpx.delete(url, headers={"X-Auth-Token": token}).status_code == 405
    assert httpx.get(url).status_code == 401
