"""Who sees which image: private, public, community and shared images across projects, and
image members (the cross-project pattern of tests/helpers/isolation.py, extended to images)."""

from __future__ import annotations

import uuid
from typing import Any

import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.isolation import Tenant, assert_hidden
from tests.helpers.server import Server
from tests.image import raw


def listed(conn: openstack.connection.Connection, tag: str, **query: Any) -> set[str]:
    return {i.id for i in conn.image.images(tag=tag, **query)}


def test_private_image_is_invisible_to_other_projects(tenant_factory: Any, make_image: Any) -> None:
    owner, other = tenant_factory(), tenant_factory()
    tag = f"priv-{uuid.uuid4().hex[:8]}"
    image = make_image(conn=owner.conn, visibility="private", tags=[tag])
    image.upload(owner.conn.image, data=b"secret bytes")
    conn = other.conn
    assert_hidden(
        lambda: conn.image.get_image(image.id),
        lambda: conn.image.find_image(image.id),
        lambda: conn.image.update_image(image.id, name="stolen"),
        lambda: conn.image.delete_image(image.id, ignore_missing=False),
        lambda: conn.image.add_tag(image.id, "mine"),
        lambda: conn.image.add_member(image.id, member_id=other.project_id),
        lambda: conn.image.members(image.id).__next__(),
    )
    assert listed(conn, tag) == set() and listed(conn, tag, visibility="private") == set()
    for path, method in (
        (f"/images/{image.id}/file", "GET"),
        (f"/images/{image.id}/file", "PUT"),
        (f"/images/{image.id}/actions/deactivate", "POST"),
    ):
        answer = raw.call(conn, method, path, headers={"Content-Type": "application/octet-stream"})
        raw.assert_glance_error(answer, 404)
    mine = owner.conn.image.get_image(image.id)
    assert (mine.name, mine.status, mine.tags) == (image.name, "active", [tag])
    assert listed(owner.conn, tag) == {image.id}


def test_public_image_is_readable_but_not_changeable_by_others(
    admin: openstack.connection.Connection, tenant_factory: Any, make_image: Any
) -> None:
    other = tenant_factory()
    tag = f"pub-{uuid.uuid4().hex[:8]}"
    image = make_image(visibility="public", tags=[tag])
    image.upload(admin.image, data=b"public bytes")
    conn = other.conn
    assert conn.image.get_image(image.id).visibility == "public"
    assert listed(conn, tag) == {image.id}
    assert conn.image.download_image(image.id).content == b"public bytes"
    for attempt in (
        lambda: conn.image.update_image(image.id, name="defaced"),
        lambda: conn.image.delete_image(image.id, ignore_missing=False),
        lambda: conn.image.add_tag(image.id, "x"),
    ):
        with pytest.raises(osexc.ForbiddenException):
            attempt()
    assert admin.image.get_image(image.id).name == image.name


def test_only_admins_publish_images(tenant_factory: Any, make_image: Any) -> None:
    owner = tenant_factory()
    with pytest.raises(osexc.ForbiddenException):
        make_image(conn=owner.conn, visibility="public")
    image = make_image(conn=owner.conn, visibility="private")
    with pytest.raises(osexc.ForbiddenException):
        owner.conn.image.update_image(image, visibility="public")
    assert owner.conn.image.get_image(image.id).visibility == "private"
    owner.conn.image.update_image(image, visibility="community")  # owners may share this way


def test_community_image_is_readable_by_id_and_listed_on_request(
    tenant_factory: Any, make_image: Any
) -> None:
    owner, other = tenant_factory(), tenant_factory()
    tag = f"comm-{uuid.uuid4().hex[:8]}"
    image = make_image(conn=owner.conn, visibility="community", tags=[tag])
    assert other.conn.image.get_image(image.id).visibility == "community"
    assert listed(other.conn, tag) == set()
    assert listed(other.conn, tag, visibility="community") == {image.id}
    assert listed(other.conn, tag, visibility="all") == {image.id}
    with pytest.raises(osexc.ForbiddenException):
        other.conn.image.update_image(image.id, name="mine now")


def test_members_see_a_shared_image_only_once_they_accept(
    tenant_factory: Any, make_image: Any
) -> None:
    owner, member, stranger = tenant_factory(), tenant_factory(), tenant_factory()
    tag = f"share-{uuid.uuid4().hex[:8]}"
    image = make_image(conn=owner.conn, tags=[tag])  # visibility defaults to shared
    image.upload(owner.conn.image, data=b"shared bytes")
    added = owner.conn.image.add_member(image.id, member_id=member.project_id)
    assert (added.status, added.member_id) == ("pending", member.project_id)

    m = member.conn
    assert m.image.get_image(image.id).id == image.id  # readable by id, to decide
    assert listed(m, tag) == set()  # but not listed until accepted
    assert listed(m, tag, member_status="pending") == {image.id}
    with pytest.raises(osexc.ForbiddenException):  # the owner cannot answer for the member
        owner.conn.image.update_member(member.project_id, image.id, status="accepted")
    m.image.update_member(member.project_id, image.id, status="accepted")
    assert listed(m, tag) == {image.id}
    assert m.image.download_image(image.id).content == b"shared bytes"
    assert [x.member_id for x in m.image.members(image.id)] == [member.project_id]
    for attempt in (
        lambda: m.image.add_member(image.id, member_id=stranger.project_id),
        lambda: m.image.update_image(image.id, name="taken"),
        lambda: m.image.remove_member(stranger.project_id, image.id, ignore_missing=False),
    ):
        with pytest.raises((osexc.ForbiddenException, osexc.NotFoundException)):
            attempt()

    s = stranger.conn
    assert_hidden(
        lambda: s.image.get_image(image.id),
        lambda: s.image.get_member(member.project_id, image.id),
        lambda: s.image.update_member(stranger.project_id, image.id, status="accepted"),
    )
    assert listed(s, tag, visibility="shared", member_status="all") == set()

    m.image.update_member(member.project_id, image.id, status="rejected")
    assert listed(m, tag) == set()
    owner.conn.image.remove_member(member.project_id, image.id)
    assert_hidden(lambda: m.image.get_image(image.id))


def test_members_only_on_shared_images(tenant_factory: Any, make_image: Any) -> None:
    owner, other = tenant_factory(), tenant_factory()
    image = make_image(conn=owner.conn, visibility="private")
    refused = raw.call(
        owner.conn, "POST", f"/images/{image.id}/members", json={"member": other.project_id}
    )
    raw.assert_glance_error(refused, 403, "Only shared images have members")
    shared = make_image(conn=owner.conn)
    owner.conn.image.add_member(shared.id, member_id=other.project_id)
    again = raw.call(
        owner.conn, "POST", f"/images/{shared.id}/members", json={"member": other.project_id}
    )
    raw.assert_glance_error(again, 409, "already associated")


def test_cli_share_and_accept(
    server: Server, admin: openstack.connection.Connection, tenant_factory: Any, make_image: Any
) -> None:
    member: Tenant = tenant_factory()
    image = make_image()
    server.cli("image", "add", "project", image.id, member.project_name)
    members = server.cli_json("image", "member", "list", image.id)
    assert [(m["Member ID"], m["Status"]) for m in members] == [(member.project_id, "pending")]
    assert member.conn.image.get_image(image.id).id == image.id
    member.conn.image.update_member(member.project_id, image.id, status="accepted")
    assert any(i.id == image.id for i in member.conn.image.images())
    server.cli("image", "remove", "project", image.id, member.project_name)
    assert list(admin.image.members(image.id)) == []
