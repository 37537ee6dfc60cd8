"""What Swift's middleware answers that Tempest checks and our other tests did not: the
health check and cross-domain policy beside `/v1/`, temp URLs and forms signed over the
catalog URL's path, bulk delete by DELETE, a style sheet on web listings, the metadata a copy
answers with, symlinks in listings, deleting an expired object, the reseller role and the
account object-count quota."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from urllib.parse import urlsplit

import httpx
import openstack
import pytest
import swiftclient
from swiftclient import ClientException
from swiftclient.utils import generate_temp_url

from tests.helpers.server import Server
from tests.object_store.test_access import other_account


def status_of(call) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientException) as info:
        call()
    return int(info.value.http_status)


def test_healthcheck_and_crossdomain(server: Server) -> None:
    root = server.url + "/object-store"
    health = httpx.get(root + "/healthcheck")
    assert (health.status_code, health.text) == (200, "OK")
    assert health.headers["content-type"].startswith("text/plain")
    assert health.headers["x-trans-id"].startswith("tx")
    assert httpx.head(root + "/healthcheck").status_code == 200
    policy = httpx.get(root + "/crossdomain.xml")
    assert policy.status_code == 200
    assert policy.headers["content-type"].startswith("application/xml")
    assert policy.text.startswith('<?xml version="1.0"?>\n<!DOCTYPE cross-domain-policy')
    assert '<allow-access-from domain="*" secure="false" />' in policy.text
    assert policy.text.endswith("</cross-domain-policy>")
    assert httpx.post(root + "/crossdomain.xml").status_code == 405
    assert httpx.delete(root + "/healthcheck").status_code == 405


def test_temp_url_and_form_signed_over_the_catalog_path(
    swift: swiftclient.Connection, container: str
) -> None:
    """Clients sign the path of the URL they were given (`/object-store/v1/...`), as Tempest
    does; a signature over Swift's own `/v1/...` still opens it too."""
    swift.put_object(container, "doc", b"signed")
    swift.post_container(container, {"X-Container-Meta-Temp-URL-Key": "mount-key"})
    url, _ = swift.get_auth()
    origin = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    mounted = f"{urlsplit(url).path}/{container}/doc"
    for path in (mounted, mounted.removeprefix("/object-store")):
        query = generate_temp_url(path, 60, "mount-key", "GET").split("?", 1)[1]
        got = httpx.get(f"{origin}{mounted}?{query}")
        assert got.status_code == 200 and got.content == b"signed", path
    inline = generate_temp_url(mounted, 60, "mount-key", "GET") + "&inline"
    assert httpx.get(origin + inline).headers["content-disposition"] == "inline"
    put = generate_temp_url(mounted, 60, "mount-key", "PUT")
    assert httpx.put(origin + put, content=b"replaced").status_code == 201
    assert swift.get_object(container, "doc")[1] == b"replaced"
    # another mount, another object, another key: refused
    for path in (mounted.replace("/object-store/", "/elsewhere/"), mounted + "-other"):
        query = generate_temp_url(path, 60, "mount-key", "GET").split("?", 1)[1]
        assert httpx.get(f"{origin}{mounted}?{query}").status_code == 401, path
    forged = generate_temp_url(mounted, 60, "not-the-key", "GET")
    assert httpx.get(origin + forged).status_code == 401

    expires = int(time.time() + 60)
    form_path = f"{urlsplit(url).path}/{container}/up-"
    body = f"{form_path}\n\n1000\n1\n{expires}"
    fields = {
        "redirect": "",
        "max_file_size": "1000",
        "max_file_count": "1",
        "expires": str(expires),
        "signature": hmac.new(b"mount-key", body.encode(), hashlib.sha1).hexdigest(),
    }
    files = [("file1", ("loaded", b"hello world", "text/plain"))]
    made = httpx.post(f"{url}/{container}/up-", data=fields, files=files)
    assert made.status_code == 201, made.text
    assert swift.get_object(container, "up-loaded")[1] == b"hello world"
    fields["signature"] = hmac.new(b"other", body.encode(), hashlib.sha1).hexdigest()
    assert httpx.post(f"{url}/{container}/up-", data=fields, files=files).status_code == 401


def test_bulk_delete_by_delete(swift: swiftclient.Connection) -> None:
    name = f"bulk-{uuid.uuid4().hex[:6]}"
    swift.put_container(name)
    swift.put_object(name, "a", b"a")
    url, token = swift.get_auth()
    headers = {"X-Auth-Token": token, "Accept": "application/json"}
    done = httpx.request(
        "DELETE", f"{url}?bulk-delete", headers=headers, content=f"{name}/a\n{name}\n{name}/gone"
    )
    assert done.status_code == 200
    result = done.json()
    assert result["Number Deleted"] == 2 and result["Number Not Found"] == 1
    assert status_of(lambda: swift.head_container(name)) == 404
    # anonymous: nothing deleted, each path refused
    swift.put_container(name)
    anonymous = httpx.request(
        "DELETE", f"{url}?bulk-delete", content=name, headers={"Accept": "application/json"}
    )
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.json()["Errors"] == [[name, "401 Unauthorized"]]
    swift.head_container(name)
    swift.delete_container(name)


def test_web_listing_style_sheet(swift: swiftclient.Connection) -> None:
    name = f"css-{uuid.uuid4().hex[:6]}"
    swift.put_container(
        name,
        headers={
            "X-Container-Read": ".r:*,.rlistings",
            "X-Container-Meta-Web-Listings": "true",
            "X-Container-Meta-Web-Listings-CSS": "listings.css",
        },
    )
    swift.put_object(name, "a.txt", b"a")
    swift.put_object(name, "sub/b.txt", b"b")
    url, _ = swift.get_auth()
    link = '<link rel="stylesheet" type="text/css" href="{}" />'
    top = httpx.get(f"{url}/{name}/")
    assert top.status_code == 200 and link.format("listings.css") in top.text
    assert link.format("../listings.css") in httpx.get(f"{url}/{name}/sub/").text
    swift.post_container(name, {"X-Container-Meta-Web-Listings-CSS": "/static/site.css"})
    time.sleep(2.1)  # container info is cached for two seconds, as Swift's proxy caches it
    assert link.format("/static/site.css") in httpx.get(f"{url}/{name}/sub/").text
    swift.post_container(name, {"X-Remove-Container-Meta-Web-Listings-CSS": "x"})
    time.sleep(2.1)
    assert "stylesheet" not in httpx.get(f"{url}/{name}/").text


def test_copy_answers_with_the_copys_metadata(
    swift: swiftclient.Connection, container: str
) -> None:
    swift.put_object(container, "src", b"data", headers={"X-Object-Meta-Src": "s"})
    answer: dict = {}
    swift.copy_object(
        container,
        "src",
        f"/{container}/dst",
        headers={"X-Object-Meta-Test": "t", "X-Delete-After": "600"},
        response_dict=answer,
    )
    headers = answer["headers"]
    assert headers["x-copied-from"] == f"{container}/src"
    assert headers["x-copied-from-account"] == swift.get_auth()[0].rsplit("/", 1)[1]
    assert headers["x-object-meta-src"] == "s" and headers["x-object-meta-test"] == "t"
    assert int(headers["x-delete-at"]) > time.time()
    fresh: dict = {}
    swift.copy_object(
        container, "src", f"/{container}/fresh", fresh_metadata=True, response_dict=fresh
    )
    assert "x-object-meta-src" not in fresh["headers"]
    assert status_of(lambda: swift.copy_object(container, "missing", f"/{container}/x")) == 404


def test_symlinks_listed_with_their_target(swift: swiftclient.Connection, container: str) -> None:
    swift.put_object(container, "file.txt", b"target")
    swift.put_object(
        container,
        "link.txt",
        b"",
        headers={"X-Symlink-Target": f"{container}/file.txt"},
        content_type="application/symlink",
    )
    account = swift.get_auth()[0].rsplit("/", 1)[1]
    _, listed = swift.get_container(container)
    by_name = {entry["name"]: entry for entry in listed}
    assert by_name["link.txt"]["content_type"] == "application/symlink"
    assert by_name["link.txt"]["symlink_path"] == f"/v1/{account}/{container}/file.txt"
    assert "symlink_path" not in by_name["file.txt"]
    assert swift.get_object(container, "link.txt")[1] == b"target"
    url, token = swift.get_auth()
    xml = httpx.get(f"{url}/{container}?format=xml", headers={"X-Auth-Token": token}).text
    assert f"<symlink_path>/v1/{account}/{container}/file.txt</symlink_path>" in xml
    swift.delete_object(container, "link.txt")
    assert "link.txt" not in {e["name"] for e in swift.get_container(container)[1]}


def test_deleting_an_expired_object_removes_it(
    swift: swiftclient.Connection, container: str
) -> None:
    """Before the expirer comes, DELETE answers 404 as a read does, but removes the object
    and its listing row, so the container can be deleted (Swift's object server does so)."""
    swift.put_object(container, "brief", b"x", headers={"X-Delete-At": str(int(time.time()) + 1)})
    time.sleep(1.5)
    assert status_of(lambda: swift.get_object(container, "brief")) == 404
    assert [e["name"] for e in swift.get_container(container)[1]] == ["brief"]
    assert status_of(lambda: swift.delete_object(container, "brief")) == 404
    assert swift.get_container(container)[1] == []
    swift.delete_container(container)


def test_reseller_admin_role_exists(admin: openstack.connection.Connection) -> None:
    assert admin.identity.find_role("ResellerAdmin") is not None


def test_account_object_count_quota(tenant_swift) -> None:  # type: ignore[no-untyped-def]
    """`X-Account-Quota-Count` (Swift 2.34): set by a reseller admin, it caps the account's
    objects; `X-Account-Quota-Bytes` is the bytes quota's newer name."""
    _owner, owner = tenant_swift()
    _reseller, reseller = tenant_swift(role="ResellerAdmin")
    as_reseller = other_account(owner, reseller)
    owner.put_container("c")
    owner.put_object("c", "first", b"1")
    assert status_of(lambda: owner.post_account({"X-Account-Quota-Count": "1"})) == 403
    assert status_of(lambda: as_reseller.post_account({"X-Account-Quota-Count": "many"})) == 400
    as_reseller.post_account({"X-Account-Quota-Count": "1"})
    assert owner.head_account()["x-account-quota-count"] == "1"
    assert status_of(lambda: owner.put_object("c", "second", b"")) == 413
    assert [e["name"] for e in owner.get_container("c")[1]] == ["first"]
    as_reseller.put_object("c", "resold", b"")  # quotas do not bind the reseller
    as_reseller.delete_object("c", "resold")
    as_reseller.post_account({"X-Remove-Account-Quota-Count": "x", "X-Account-Quota-Bytes": "3"})
    assert status_of(lambda: owner.put_object("c", "big", b"four")) == 413
    owner.put_object("c", "second", b"22")
    as_reseller.post_account({"X-Account-Quota-Bytes": ""})
    owner.put_object("c", "big", b"four")
