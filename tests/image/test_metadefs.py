"""Metadata definitions (Glance's metadefs) through openstacksdk: namespaces with their objects,
properties, tags and resource types; protection, privacy and bad input."""

from __future__ import annotations

import uuid

import openstack
import openstack.exceptions as osexc
import pytest


def test_namespace_lifecycle(
    admin: openstack.connection.Connection, demo: openstack.connection.Connection
) -> None:
    name = f"ns-{uuid.uuid4().hex[:8]}"
    kinds = [t.name for t in admin.image.metadef_resource_types()]
    assert "OS::Glance::Image" in kinds
    ns = admin.image.create_metadef_namespace(
        namespace=name, display_name="Test", visibility="private", protected=True
    )
    assert admin.image.get_metadef_namespace(name).display_name == "Test"
    with pytest.raises(osexc.NotFoundException):
        demo.image.get_metadef_namespace(name)  # private: the demo project cannot see it
    with pytest.raises(osexc.ForbiddenException):
        admin.image.delete_metadef_namespace(name)  # protected
    admin.image.create_metadef_resource_type_association(name, name="OS::Glance::Image")
    assert [a.name for a in admin.image.metadef_resource_type_associations(name)] == [
        "OS::Glance::Image"
    ]
    admin.image.create_metadef_property(
        name, name="hw_speed", title="Speed", type="string", enum=["fast", "slow"]
    )
    # (openstacksdk's get_metadef_property builds the wrong URL: read it raw)
    path = f"/metadefs/namespaces/{name}/properties/hw_speed"
    assert admin.image.get(path).json()["title"] == "Speed"
    changed = {"name": "hw_speed", "title": "Pace", "type": "string"}
    assert admin.image.put(path, json=changed).status_code == 200
    assert admin.image.get(path).json()["title"] == "Pace"
    admin.image.create_metadef_object(name, name="cpu", description="CPU knobs")
    assert [o.name for o in admin.image.metadef_objects(name)] == ["cpu"]
    admin.image.add_tag_to_metadef_namespace(ns, "fast")
    assert "fast" in {t["name"] for t in admin.image.get_metadef_namespace(name).tags}
    with pytest.raises(osexc.BadRequestException):
        admin.image.create_metadef_property(name, name="bad", title="x", type="colour")
    admin.image.update_metadef_namespace(ns, namespace=name, protected=False)
    admin.image.delete_metadef_namespace(name)
    with pytest.raises(osexc.NotFoundException):
        admin.image.get_metadef_namespace(name)


def test_members_cannot_change_metadefs(demo: openstack.connection.Connection) -> None:
    with pytest.raises(osexc.ForbiddenException):
        demo.image.create_metadef_namespace(namespace=f"ns-{uuid.uuid4().hex[:8]}")
    assert demo.image.get_metadef_namespace_schema().name == "namespace"
