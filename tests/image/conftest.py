"""Fixtures for the image tests: images that clean up after themselves."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openstack
import pytest


@pytest.fixture
def make_image(
    admin: openstack.connection.Connection,
) -> Iterator[Callable[..., Any]]:
    """Create an image (no data) as `conn`; every one is deleted at the end of the test."""
    made: list[tuple[openstack.connection.Connection, str]] = []

    def make(conn: openstack.connection.Connection | None = None, **attrs: Any) -> Any:
        conn = conn or admin
        attrs.setdefault("name", f"img-{uuid.uuid4().hex[:8]}")
        attrs.setdefault("disk_format", "raw")
        attrs.setdefault("container_format", "bare")
        image = conn.image.create_image(allow_duplicates=True, **attrs)
        made.append((conn, image.id))
        return image

    yield make
    for _conn, image_id in made:
        image = admin.image.find_image(image_id)
        if image is not None:
            if image.is_protected:
                admin.image.update_image(image, is_protected=False)
            admin.image.delete_image(image_id, ignore_missing=True)
