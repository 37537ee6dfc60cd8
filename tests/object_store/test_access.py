"""Who may reach an account, as keystoneauth decides: a project's members own its account,
other projects' users see nothing unless a container or account ACL grants it, anonymous
callers only what a referrer ACL opens."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import httpx
import pytest
import swiftclient
from swiftclient import ClientException


def status_of(call: Callable[[], object]) -> int:
    with pytest.raises(ClientException) as info:
        call()
    return int(info.value.http_status)


def other_account(
    owner: swiftclient.Connection, stranger: swiftclient.Connection
) -> swiftclient.Connection:
    """The stranger's token aimed at the owner's account URL."""
    url, _ = owner.get_auth()
    _, token = stranger.get_auth()
    return swiftclient.Connection(preauthurl=url, preauthtoken=token, retries=0)


def test_other_projects_see_nothing(swift: swiftclient.Connection, tenant_swift) -> None:  # type: ignore[no-untyped-def]
    name = f"priv-{uuid.uuid4().hex[:6]}"
    swift.put_container(name)
    swift.put_object(name, "secret", b"s3cret")
    _tenant, theirs = tenant_swift()
    intruder = other_account(swift, theirs)
    assert status_of(lambda: intruder.head_account()) == 403
    assert status_of(lambda: intruder.get_container(name)) == 403
    assert status_of(lambda: intruder.get_object(name, "secret")) == 403
    assert status_of(lambda: intruder.put_object(name, "x", b"")) == 403
    assert status_of(lambda: intruder.delete_object(name, "secret")) == 403
    assert status_of(lambda: intruder.post_container(name, {"X-Container-Read": ".r:*"})) == 403
    assert status_of(lambda: intruder.put_container("new")) == 403
    # their own account is theirs, and empty
    assert theirs.get_account()[1] == []
    assert swift.get_object(name, "secret")[1] == b"s3cret"


def test_container_acls_grant_read_and_write(swift: swiftclient.Connection, tenant_swift) -> None:  # type: ignore[no-untyped-def]
    name = f"shared-{uuid.uuid4().hex[:6]}"
    tenant, theirs = tenant_swift()
    swift.put_container(name)
    swift.put_object(name, "doc", b"shared doc")
    guest = other_account(swift, theirs)
    swift.post_container(name, {"X-Container-Read": f"{tenant.project_id}:{tenant.user_id}"})
    assert guest.get_object(name, "doc")[1] == b"shared doc"
    assert [o["name"] for o in guest.get_container(name)[1]] == ["doc"]
    assert status_of(lambda: guest.put_object(name, "w", b"")) == 403
    headers = guest.head_container(name)
    assert "x-container-read" not in headers  # ACLs are shown to owners only
    swift.post_container(name, {"X-Container-Write": f"{tenant.project_name}:*"})
    guest.put_object(name, "w", b"written by a guest")
    assert swift.get_object(name, "w")[1] == b"written by a guest"
    assert status_of(lambda: guest.post_container(name, {"X-Container-Meta-A": "1"})) == 403
    assert status_of(lambda: guest.delete_container(name)) == 403


def test_public_read_and_listing_acls(swift: swiftclient.Connection) -> None:
    name = f"pub-{uuid.uuid4().hex[:6]}"
    swift.put_container(name)
    swift.put_object(name, "page.html", b"<p>hi</p>")
    url, _ = swift.get_auth()
    assert httpx.get(f"{url}/{name}/page.html").status_code == 401
    swift.post_container(name, {"X-Container-Read": ".r:*"})
    assert httpx.get(f"{url}/{name}/page.html").content == b"<p>hi</p>"
    assert httpx.get(f"{url}/{name}").status_code == 401  # no listing without .rlistings
    assert httpx.put(f"{url}/{name}/x", content=b"").status_code == 401
    swift.post_container(name, {"X-Container-Read": ".r:*,.rlistings"})
    assert httpx.get(f"{url}/{name}").text == "page.html\n"
    assert httpx.get(url).status_code == 401
    bad = swift.post_container
    assert status_of(lambda: bad(name, {"X-Container-Read": ".bogus"})) == 400


def test_account_acls(swift: swiftclient.Connection, tenant_swift) -> None:  # type: ignore[no-untyped-def]
    tenant, theirs = tenant_swift()
    guest = other_account(swift, theirs)
    name = f"acct-{uuid.uuid4().hex[:6]}"
    swift.put_container(name)
    swift.put_object(name, "o", b"1")
    acl = {"read-only": [f"{tenant.project_id}:{tenant.user_id}"]}
    swift.post_account({"X-Account-Access-Control": json.dumps(acl)})
    try:
        assert name in [c["name"] for c in guest.get_account()[1]]
        assert guest.get_object(name, "o")[1] == b"1"
        assert status_of(lambda: guest.put_object(name, "p", b"")) == 403
        acl = {"read-write": [f"{tenant.project_id}:{tenant.user_id}"]}
        swift.post_account({"X-Account-Access-Control": json.dumps(acl)})
        guest.put_object(name, "p", b"2")
        assert status_of(lambda: guest.post_account({"X-Account-Meta-X": "1"})) == 403
        assert (
            status_of(lambda: swift.post_account({"X-Account-Access-Control": "not json"})) == 400
        )
    finally:
        swift.post_account({"X-Remove-Account-Access-Control": "x"})
    assert status_of(lambda: guest.get_object(name, "o")) == 403


def test_reader_role_does_not_own(tenant_swift, server) -> None:  # type: ignore[no-untyped-def]
    _tenant, reader = tenant_swift(role="reader")
    assert status_of(lambda: reader.put_container("nope")) == 403


def test_reseller_admin_reaches_every_account(tenant_swift, admin) -> None:  # type: ignore[no-untyped-def]
    if admin.identity.find_role("ResellerAdmin") is None:
        admin.identity.create_role(name="ResellerAdmin")
    _owner, owner = tenant_swift()
    owner.put_container("mine")
    owner.put_object("mine", "o", b"owned")
    _reseller, reseller = tenant_swift(role="ResellerAdmin")
    as_reseller = other_account(owner, reseller)
    assert as_reseller.get_object("mine", "o")[1] == b"owned"
    as_reseller.put_object("mine", "from-reseller", b"r")
    # an account quota is the reseller's to set, not the owner's
    assert status_of(lambda: owner.post_account({"X-Account-Meta-Quota-Bytes": "1"})) == 403
    as_reseller.post_account({"X-Account-Meta-Quota-Bytes": "100"})
    assert status_of(lambda: owner.put_object("mine", "big", b"x" * 200)) == 413
    _other, other = tenant_swift()
    assert status_of(lambda: other_account(owner, other).get_object("mine", "o")) == 403


def test_temp_urls(server, swift: swiftclient.Connection, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from swiftclient.utils import generate_temp_url

    from tests.object_store.conftest import swift_cli

    name = f"tmp-{uuid.uuid4().hex[:6]}"
    swift.put_container(name)
    swift.put_object(name, "report.pdf", b"%PDF-1.4 report")
    swift.post_account({"X-Account-Meta-Temp-URL-Key": "account-secret"})
    url, _ = swift.get_auth()
    base = url.split("/v1/")[0]
    path = f"/v1/{url.split('/v1/')[1]}/{name}/report.pdf"
    for digest in ("sha256", "sha1", "sha512"):
        signed = generate_temp_url(path, 60, "account-secret", "GET", digest=digest)
        got = httpx.get(base + signed)
        assert got.status_code == 200 and got.content == b"%PDF-1.4 report"
        assert got.headers["content-disposition"].startswith("attachment")
    assert (
        httpx.head(base + generate_temp_url(path, 60, "account-secret", "GET")).status_code == 200
    )
    # the swift command signs the same way
    cli_url = swift_cli(server, "tempurl", "GET", "60", path, "account-secret").stdout.strip()
    assert httpx.get(base + cli_url).status_code == 200
    # expired, forged, wrong method, wrong object: 401 and nothing else
    expired = generate_temp_url(
        path, int(__import__("time").time()) - 10, "account-secret", "GET", absolute=True
    )
    assert httpx.get(base + expired).status_code == 401
    forged = generate_temp_url(path, 60, "not-the-key", "GET")
    assert httpx.get(base + forged).status_code == 401
    assert (
        httpx.put(
            base + generate_temp_url(path, 60, "account-secret", "GET"), content=b"x"
        ).status_code
        == 401
    )
    other = path.replace("report.pdf", "other")
    assert (
        httpx.get(
            base + generate_temp_url(path, 60, "account-secret", "GET").replace(path, other)
        ).status_code
        == 401
    )
    # a PUT URL with a container key uploads one object
    swift.post_container(name, {"X-Container-Meta-Temp-URL-Key": "container-secret"})
    upload = generate_temp_url(
        path.replace("report.pdf", "drop.txt"), 60, "container-secret", "PUT"
    )
    assert httpx.put(base + upload, content=b"dropped").status_code == 201
    assert swift.get_object(name, "drop.txt")[1] == b"dropped"
    # keys are shown to owners only
    assert "x-account-meta-temp-url-key" in swift.head_account()
    swift.post_account({"X-Remove-Account-Meta-Temp-URL-Key": "x"})


def test_form_post(swift: swiftclient.Connection) -> None:
    import hashlib
    import hmac
    import time

    name = f"form-{uuid.uuid4().hex[:6]}"
    swift.put_container(name, headers={"X-Container-Meta-Temp-URL-Key": "form-key"})
    url, _ = swift.get_auth()
    path = f"/v1/{url.split('/v1/')[1]}/{name}/uploads/"
    expires = int(time.time() + 60)

    def signed(
        max_size: int = 1000, count: int = 2, redirect: str = "", key: str = "form-key"
    ) -> dict[str, str]:
        body = f"{path}\n{redirect}\n{max_size}\n{count}\n{expires}"
        sig = hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()
        return {
            "redirect": redirect,
            "max_file_size": str(max_size),
            "max_file_count": str(count),
            "expires": str(expires),
            "signature": sig,
        }

    target = f"{url}/{name}/uploads/"
    files = [
        ("file1", ("a.txt", b"first", "text/plain")),
        ("file2", ("b.bin", b"second", "application/x-b")),
    ]
    made = httpx.post(target, data=signed(), files=files)
    assert made.status_code == 201, made.text
    assert swift.get_object(name, "uploads/a.txt")[1] == b"first"
    assert swift.head_object(name, "uploads/b.bin")["content-type"] == "application/x-b"
    back = httpx.post(target, data=signed(redirect="https://example.com/done"), files=files[:1])
    assert back.status_code == 303 and "status=201" in back.headers["location"]
    assert httpx.post(target, data=signed(key="wrong"), files=files).status_code == 401
    too_big = httpx.post(
        target, data=signed(max_size=3), files=[("f", ("big.txt", b"too big", "text/plain"))]
    )
    assert too_big.status_code == 400 and "max_file_size" in too_big.text
    assert status_of(lambda: swift.head_object(name, "uploads/big.txt")) == 404
    too_many = httpx.post(target, data=signed(count=1), files=files)
    assert too_many.status_code == 400


def test_static_website(swift: swiftclient.Connection) -> None:
    name = f"web-{uuid.uuid4().hex[:6]}"
    swift.put_container(name, headers={"X-Container-Read": ".r:*"})
    swift.put_object(name, "index.html", b"<h1>home</h1>", content_type="text/html")
    swift.put_object(name, "docs/index.html", b"<h1>docs</h1>", content_type="text/html")
    swift.put_object(name, "files/a.txt", b"a")
    swift.put_object(name, "404error.html", b"<h1>lost</h1>", content_type="text/html")
    url, token = swift.get_auth()
    site = f"{url}/{name}"
    assert httpx.get(site + "/").status_code == 401  # not a website yet: no listing for anonymous
    swift.post_container(
        name,
        {
            "X-Container-Meta-Web-Index": "index.html",
            "X-Container-Meta-Web-Error": "error.html",
            "X-Container-Meta-Web-Listings": "true",
        },
    )
    assert httpx.get(site + "/").text == "<h1>home</h1>"
    moved = httpx.get(site)
    assert moved.status_code == 301 and moved.headers["location"].endswith(f"/{name}/")
    assert httpx.get(site + "/docs/").text == "<h1>docs</h1>"
    assert httpx.get(site + "/docs").status_code == 301
    listing = httpx.get(site + "/files/")
    assert listing.status_code == 200 and 'href="a.txt"' in listing.text
    missing = httpx.get(site + "/nothing-here")
    assert missing.status_code == 404 and missing.text == "<h1>lost</h1>"
    # owners with a token still get the API
    assert httpx.get(site, headers={"X-Auth-Token": token}).status_code == 200
    assert (
        httpx.get(site + "/", headers={"X-Auth-Token": token, "X-Web-Mode": "true"}).text
        == "<h1>home</h1>"
    )
