"""Images and members as Glance's API shows them (the JSON documents, not HTTP)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from overcast.image import models

HIDDEN_PROPERTIES = frozenset({"os_glance_stage_host"})


def isotime(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def image(row: models.Image) -> dict[str, Any]:
    body: dict[str, Any] = {
        p.name: p.value for p in row.properties if p.name not in HIDDEN_PROPERTIES
    }
    body.update(
        name=row.name,
        disk_format=row.disk_format,
        container_format=row.container_format,
        visibility=row.visibility,
        size=row.size,
        virtual_size=row.virtual_size,
        status=row.status,
        checksum=row.checksum,
        protected=row.protected,
        min_ram=row.min_ram,
        min_disk=row.min_disk,
        owner=row.owner,
        os_hidden=row.os_hidden,
        os_hash_algo=row.os_hash_algo,
        os_hash_value=row.os_hash_value,
        id=row.id,
        created_at=isotime(row.created_at),
        updated_at=isotime(row.updated_at),
        tags=[t.value for t in row.tags],
        self=f"/v2/images/{row.id}",
        file=f"/v2/images/{row.id}/file",
        schema="/v2/schemas/image",
    )
    stores = [loc.store for loc in row.locations]
    if stores:
        body["stores"] = ",".join(dict.fromkeys(stores))
    return body


def member(row: models.ImageMember) -> dict[str, Any]:
    return {
        "created_at": isotime(row.created_at),
        "image_id": row.image_id,
        "member_id": row.member,
        "schema": "/v2/schemas/member",
        "status": row.status,
        "updated_at": isotime(row.updated_at),
    }
