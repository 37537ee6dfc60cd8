"""Input no service may answer with a 500, on every service in the catalog: JSON nested a
thousand deep (the unauthenticated token request too), bodies over the limit whatever their
Content-Type, numbers beyond what the database holds, Unicode in URLs, trailing slashes and
over-long microversions. Raw HTTP where no client would send such a thing; clients otherwise."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openstack
import pytest

from tests.helpers.server import Server

DEEP_ARRAY = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000
BIG = 2**63
# Services whose request bodies are never parsed as JSON: data streamed to a store, and the
# dashboard's HTML forms.
NOT_JSON = {"object-store", "dashboard"}


def _catalog(conn: openstack.connection.Connection) -> dict[str, str]:
    return {
        entry["type"]: next(e["url"] for e in entry["endpoints"] if e["interface"] == "public")
        for entry in conn.service_catalog
    }


def _post(url: str, token: str | None, body: bytes, ctype: str = "application/json") -> Any:
    headers = {"Content-Type": ctype, **({"X-Auth-Token": token} if token else {})}
    return httpx.post(url, content=body, headers=headers, timeout=30)


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deep_json_is_a_400_on_every_service(
    server: Server, admin: openstack.connection.Connection, body: bytes
) -> None:
    assert _post(server.url + "/v3/auth/tokens", None, body).status_code == 400
    for service, url in _catalog(admin).items():
        response = _post(url.rstrip("/") + "/anything", admin.auth_token, body)
        assert response.status_code < 500, (service, response.status_code, response.text)
        if service not in NOT_JSON:
            assert response.status_code == 400, (service, response.status_code, response.text)


def test_moderate_nesting_still_reaches_the_route(admin: openstack.connection.Connection) -> None:
    # 50 levels is legal JSON: the route answers for itself (here: not a valid project).
    body = {"project": {"name": "nested", "extra": json.loads("[" * 50 + "]" * 50)}}
    url = _catalog(admin)["identity"] + "/projects"
    response = _post(url, admin.auth_token, json.dumps(body).encode())
    assert response.status_code in (201, 400), response.text


def test_one_body_limit_whatever_the_content_type(
    admin: openstack.connection.Connection,
) -> None:
    body = json.dumps({"keypair": {"name": "k" * 200_000}}).encode()
    for ctype in ("application/json", "application/octet-stream", "text/plain"):
        url = _catalog(admin)["compute"] + "/os-keypairs"
        assert _post(url, admin.auth_token, body, ctype).status_code == 413, ctype
    url = _catalog(admin)["image"].rstrip("/") + "/v2/images"
    assert _post(url, admin.auth_token, body, "application/octet-stream").status_code == 413


def test_image_data_still_streams_beyond_the_limit(
    admin: openstack.connection.Connection,
) -> None:
    data = b"\0" * 300_000
    image = admin.image.create_image(
        name="big-data", disk_format="raw", container_format="bare", data=data
    )
    assert admin.image.get_image(image.id).size == len(data)
    admin.image.delete_image(image)


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("compute", f"/flavors?minRam={BIG}"),
        ("compute", f"/flavors?limit={BIG}"),
        ("compute", f"/servers?limit={BIG}"),
        ("compute", f"/os-server-groups?offset={BIG}"),
        ("identity", f"/projects?limit={BIG}"),
        ("image", f"/v2/images?limit={BIG}"),
        ("image", f"/v2/images?size_min={BIG}"),
    ],
)
def test_numbers_beyond_the_database_are_a_400(
    admin: openstack.connection.Connection, service: str, path: str
) -> None:
    url = _catalog(admin)[service].rstrip("/") + path
    response = httpx.get(url, headers={"X-Auth-Token": admin.auth_token}, timeout=30)
    assert response.status_code == 400, response.text


def test_image_min_ram_beyond_the_database_is_a_400(
    admin: openstack.connection.Connection,
) -> None:
    with pytest.raises(openstack.exceptions.BadRequestException):
        admin.image.create_image(name="huge", min_ram=BIG, disk_format="raw")
    assert not list(admin.image.images(name="huge"))


def test_unicode_tags_in_urls(admin: openstack.connection.Connection) -> None:
    project = admin.identity.create_project(name="unicode-tags", domain_id="default")
    try:
        project.add_tag(admin.identity, "ünïcode☃")
        assert "ünïcode☃" in admin.identity.get_project(project.id).tags
    finally:
        admin.identity.delete_project(project)


def test_trailing_slash_is_a_404_not_a_redirect(
    server: Server, admin: openstack.connection.Connection
) -> None:
    catalog = _catalog(admin)
    for url in (catalog["compute"] + "/servers/", catalog["identity"] + "/projects/"):
        response = httpx.get(url, headers={"X-Auth-Token": admin.auth_token}, timeout=30)
        assert response.status_code == 404, (url, response.status_code)


def test_over_long_microversion_is_a_400(admin: openstack.connection.Connection) -> None:
    version = "2." + "9" * 300
    response = httpx.get(
        _catalog(admin)["compute"] + "/servers",
        headers={"X-Auth-Token": admin.auth_token, "OpenStack-API-Version": f"compute {version}"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert len(response.text) < 500
