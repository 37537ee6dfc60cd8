"""Container requests: PUT (create or update), POST (metadata, ACLs, versioning, quotas, sync),
DELETE (only when empty), HEAD/GET (usage headers and the object listing)."""

from __future__ import annotations

from starlette.responses import Response

from overcast.common import errors
from overcast.object_store import access, constraints, listing, sync
from overcast.object_store.api.call import Call, empty, http_date, require, title
from overcast.object_store.containers import ContainerInfo

SYSTEM = (
    "x-container-read",
    "x-container-write",
    "x-versions-location",
    "x-history-location",
    "x-container-sync-to",
    "x-container-sync-key",
)
OWNER_ONLY = (
    "x-container-read",
    "x-container-write",
    "x-container-sync-to",
    "x-container-sync-key",
    "x-container-meta-temp-url-key",
    "x-container-meta-temp-url-key-2",
)


def headers_of(info: ContainerInfo, owner: bool) -> dict[str, str]:
    headers = {
        "X-Container-Object-Count": str(info.object_count),
        "X-Container-Bytes-Used": str(info.bytes_used),
        "X-Timestamp": info.created_ts,
        "X-Put-Timestamp": info.put_ts,
        "Last-Modified": http_date(info.put_ts),
        "Accept-Ranges": "bytes",
        "X-Storage-Policy": "Policy-0",
    }
    for key, value in info.meta.items():
        if key in OWNER_ONLY and not owner:
            continue
        headers[title(key)] = value
    return headers


def _changes(call: Call, owner: bool) -> dict[str, str | None]:
    changes = call.meta_changes("container", extra=SYSTEM)
    for key in ("x-container-read", "x-container-write"):
        if key in changes:
            if not owner:
                raise errors.Forbidden()
            if changes[key]:
                changes[key] = access.parse_container_acl(str(changes[key]))
    for key in ("x-container-meta-quota-bytes", "x-container-meta-quota-count"):
        value = changes.get(key)
        if value and not value.isdigit():
            raise errors.BadRequest("Invalid quota value")
    if not owner:  # as Swift strips an owner's headers from others' requests
        for key in ("x-container-sync-to", "x-container-sync-key"):
            changes.pop(key, None)
    if changes.get("x-container-sync-to"):
        sync.target(str(changes["x-container-sync-to"]), call.st.settings)
    if changes.get("x-versions-location") and changes.get("x-history-location"):
        raise errors.BadRequest("Only one of X-Versions-Location or X-History-Location may be set")
    for key in ("x-versions-location", "x-history-location"):
        if changes.get(key):
            other = "x-history-location" if key == "x-versions-location" else "x-versions-location"
            changes[other] = None
            if "/" in str(changes[key]):
                raise errors.PreconditionFailed(f"{title(key)} must be a container name")
    return changes


async def handle(call: Call) -> Response:
    assert call.container is not None
    caller = await call.caller()
    st = call.st
    if call.method == "PUT":
        require(caller.owner or caller.account_level == "read-write", caller)
        changes = _changes(call, caller.owner)
        created = await st.containers.put(call.account, call.container, constraints.now(), changes)
        return empty(201 if created else 202)
    if call.method == "POST":
        require(caller.owner or caller.account_level == "read-write", caller)
        changes = _changes(call, caller.owner)
        await st.containers.post(call.account, call.container, changes)
        return empty(204)
    if call.method == "DELETE":
        require(caller.owner or caller.account_level == "read-write", caller)
        await st.containers.delete(call.account, call.container)
        return empty(204)
    if call.method not in ("GET", "HEAD"):
        raise errors.MethodNotAllowed()
    info = await st.containers.info(call.account, call.container, fresh=True)
    if info is None:
        if not caller.owner and not caller.account_level:
            raise caller.denied()
        raise errors.NotFound()
    require(
        access.may_read(caller, info.get("x-container-read"), call.header("referer"), listing=True),
        caller,
    )
    headers = headers_of(info, caller.owner)
    if call.method == "HEAD":
        return empty(204, headers)
    query = listing.Query.from_params(call.params, constraints.CONTAINER_LISTING_LIMIT)
    fmt = listing.choose_format(call.params, call.header("accept"))
    async with st.db.reader() as session:
        items = await listing.walk(session, query, listing.objects_page(info.id))
    if not items and fmt == "plain":
        return empty(204, headers)
    body = listing.render(fmt, "container", call.container, items, listing.object_entry)
    return Response(body, status_code=200, headers=headers, media_type=listing.MEDIA[fmt])
