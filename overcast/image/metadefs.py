"""Metadata definitions (Glance's metadefs), independent of HTTP: namespaces that describe the
properties other resources may carry (images, volumes, flavors...), with their objects,
properties, tags and the resource types they apply to. Public namespaces are read by all,
private ones by their owner and admins; changes are for admins (`manage_metadefs`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.db.base import utcnow
from overcast.image.models import MetadefNamespace as Namespace
from overcast.image.state import ImageState
from overcast.image.view import isotime

# The resource types a namespace may apply to (Glance's list).
RESOURCE_TYPES = (
    "OS::Glance::Image",
    "OS::Cinder::Volume",
    "OS::Nova::Flavor",
    "OS::Nova::Aggregate",
    "OS::Nova::Server",
    "OS::Trove::Instance",
    "OS::Glance::Metadef",
)
_NAME = re.compile(r"^[^/]{1,80}$")
VISIBILITIES = ("public", "private")
PARTS = ("objects", "properties", "tags", "resource_types")


def _visible(ctx: RequestContext) -> Any:
    if ctx.is_admin:
        return True
    return or_(Namespace.visibility == "public", Namespace.owner == (ctx.project_id or ""))


def name(value: Any, what: str = "namespace") -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise errors.BadRequest(f"Invalid {what} name: {value!r}.")
    return value


async def listed(
    st: ImageState, ctx: RequestContext, visibility: str | None, resource_types: list[str]
) -> list[Namespace]:
    st.policy.enforce("get_metadef_namespaces", ctx, {"project_id": ctx.project_id})
    stmt = select(Namespace).where(_visible(ctx)).order_by(Namespace.namespace)
    if visibility is not None:
        stmt = stmt.where(Namespace.visibility == visibility)
    async with st.db.reader() as session:
        rows = list((await session.execute(stmt)).scalars())
    if resource_types:
        rows = [r for r in rows if set(resource_types) & set(r.resource_types or {})]
    return rows


async def _load(session: AsyncSession, ctx: RequestContext, ns: str, *, lock: bool) -> Namespace:
    stmt = select(Namespace).where(Namespace.namespace == ns, _visible(ctx))
    row = await session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise errors.NotFound(f"Metadata definition namespace={ns} was not found.")
    return row


async def get(st: ImageState, ctx: RequestContext, ns: str) -> Namespace:
    st.policy.enforce("get_metadef_namespace", ctx, {"project_id": ctx.project_id})
    async with st.db.reader() as session:
        return await _load(session, ctx, ns, lock=False)


def _fields(row: Namespace, body: dict[str, Any]) -> None:
    for key in ("display_name", "description"):
        if key in body:
            if body[key] is not None and not isinstance(body[key], str):
                raise errors.BadRequest(f"Invalid value for {key}.")
            setattr(row, key, body[key])
    if "visibility" in body:
        if body["visibility"] not in VISIBILITIES:
            raise errors.BadRequest(f"Invalid visibility {body['visibility']!r}.")
        row.visibility = body["visibility"]
    if "protected" in body:
        if not isinstance(body["protected"], bool):
            raise errors.BadRequest("protected must be a boolean.")
        row.protected = body["protected"]


async def create(st: ImageState, ctx: RequestContext, body: dict[str, Any]) -> Namespace:
    st.policy.enforce("add_metadef_namespace", ctx, {"project_id": ctx.project_id})
    now = utcnow()
    row = Namespace(
        namespace=name(body.get("namespace")),
        owner=str(body.get("owner") or ctx.project_id or ""),
        visibility="private",
        protected=False,
        objects={},
        properties={},
        tags={},
        resource_types={},
        created_at=now,
        updated_at=now,
    )
    _fields(row, body)
    for item in body.get("objects") or []:
        row.objects = {**row.objects, **_object(item)}
    row.properties = _properties(body.get("properties") or {})
    for tag in body.get("tags") or []:
        row.tags = {**row.tags, _tag_name(tag): _stamped({})}
    for assoc in body.get("resource_type_associations") or []:
        row.resource_types = {**row.resource_types, **_association(assoc)}
    async with st.db.session() as session:
        if await session.get(Namespace, row.namespace) is not None:
            raise errors.Conflict(f"Namespace {row.namespace} already exists.")
        session.add(row)
    return row


async def change(
    st: ImageState,
    ctx: RequestContext,
    ns: str,
    mutate: Callable[[Namespace], Any],
    *,
    rule: str = "modify_metadef_namespace",
) -> Any:
    """Apply `mutate` to the namespace under its row lock; what `mutate` returns."""
    st.policy.enforce(rule, ctx, {"project_id": ctx.project_id})
    async with st.db.session() as session:
        row = await _load(session, ctx, ns, lock=True)
        result = mutate(row)
        row.updated_at = utcnow()
    return result


async def update(st: ImageState, ctx: RequestContext, ns: str, body: dict[str, Any]) -> Namespace:
    def apply(row: Namespace) -> Namespace:
        if "namespace" in body and body["namespace"] != row.namespace:
            raise errors.BadRequest("A namespace cannot be renamed here; create a new one.")
        _fields(row, body)
        return row

    result: Namespace = await change(st, ctx, ns, apply)
    return result


async def delete(st: ImageState, ctx: RequestContext, ns: str) -> None:
    st.policy.enforce("delete_metadef_namespace", ctx, {"project_id": ctx.project_id})
    async with st.db.session() as session:
        row = await _load(session, ctx, ns, lock=True)
        if row.protected:
            raise errors.Forbidden(f"Namespace {ns} is protected and cannot be deleted.")
        await session.delete(row)


# -- parts: objects, properties, tags, resource type associations ---------------------------


def _stamped(value: dict[str, Any], created: str | None = None) -> dict[str, Any]:
    now = isotime(utcnow())
    return {**value, "created_at": created or now, "updated_at": now}


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.BadRequest("A metadata definition object must be an object.")
    key = name(body.get("name"), "object")
    value = {k: v for k, v in body.items() if k in ("name", "description", "required")}
    value["properties"] = _properties(body.get("properties") or {})
    value.setdefault("required", [])
    return {key: _stamped(value)}


def _properties(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.BadRequest("properties must be an object of property definitions.")
    return {name(k, "property"): _property(k, v) for k, v in body.items()}


def _property(key: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or "type" not in body or "title" not in body:
        raise errors.BadRequest(f"Property {key} needs a 'type' and a 'title'.")
    if body["type"] not in ("array", "boolean", "integer", "number", "object", "string"):
        raise errors.BadRequest(f"Invalid type {body['type']!r} for property {key}.")
    return {k: v for k, v in body.items() if k != "name"}


def _tag_name(body: Any) -> str:
    return name(body.get("name") if isinstance(body, dict) else body, "tag")


def _association(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.BadRequest("A resource type association must be an object.")
    kind = body.get("name")
    if kind not in RESOURCE_TYPES:
        raise errors.NotFound(f"Resource type {kind} was not found.")
    value = {k: body[k] for k in ("prefix", "properties_target") if body.get(k) is not None}
    return {kind: _stamped(value)}


def part(row: Namespace, kind: str, key: str) -> dict[str, Any]:
    found = (getattr(row, kind) or {}).get(key)
    if found is None:
        raise errors.NotFound(
            f"Metadata definition {kind[:-1]} {key} was not found in {row.namespace}."
        )
    return dict(found)


def put_part(row: Namespace, kind: str, old: str | None, body: Any) -> tuple[str, dict[str, Any]]:
    """Create (`old` None) or replace one object, property, tag or association."""
    current = dict(getattr(row, kind) or {})
    made: dict[str, Any]
    if kind == "objects":
        made = _object(body)
    elif kind == "properties":
        if not isinstance(body, dict):
            raise errors.BadRequest("A property definition must be an object.")
        made = {name(body.get("name"), "property"): _property(str(body.get("name")), body)}
    elif kind == "tags":
        made = {_tag_name(body): _stamped({})}
    else:
        made = _association(body)
    ((key, value),) = made.items()
    if old is not None:
        created = current.pop(old).get("created_at") if old in current else None
        if created and isinstance(value, dict) and "created_at" in value:
            value["created_at"] = created
    if key in current and key != old:
        raise errors.Conflict(f"A {kind[:-1]} named {key} already exists in {row.namespace}.")
    current[key] = value
    setattr(row, kind, current)
    return key, value


def drop_part(row: Namespace, kind: str, key: str | None) -> None:
    """Remove one part, or (`key` None) every part of that kind."""
    if key is None:
        setattr(row, kind, {})
        return
    part(row, kind, key)
    setattr(row, kind, {k: v for k, v in (getattr(row, kind) or {}).items() if k != key})
