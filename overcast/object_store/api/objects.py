"""Object requests: PUT (whole or chunked, `X-Copy-From`, `If-None-Match: *`, ETag check,
`X-Delete-At`/`After`), GET/HEAD (conditionals, ranges, large-object manifests), POST
(metadata), DELETE and COPY. Replicas are the proxy's business; the listing row follows each
change through the listing writer (or an async pending when the database cannot take it).
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from overcast.common import errors, log
from overcast.object_store import access, constraints, sync
from overcast.object_store.api import conditions, large
from overcast.object_store.api.call import Call, empty, http_date, require, title
from overcast.object_store.containers import AccountInfo, ContainerInfo
from overcast.object_store.proxy.objects import ClientDisconnect as Disconnected
from overcast.object_store.proxy.objects import Found
from overcast.object_store.updates import Pending

LOG = log.get(__name__)
# Metadata a PUT or POST may set besides X-Object-Meta-*.
SETTABLE = (
    "content-disposition",
    "content-encoding",
    "x-delete-at",
    "x-object-manifest",
    "x-symlink-target",
    "x-symlink-target-account",
)
SYMLINK_LOOP_LIMIT = 2
POSTABLE = ("content-disposition", "content-encoding", "x-delete-at", "x-object-manifest")


async def handle(call: Call) -> Response:
    if call.method in ("PUT", "DELETE") and call.header("x-container-sync-key"):
        await _from_sync(call)
    caller = await call.caller()
    info = await call.container_info()
    if call.method in ("GET", "HEAD"):
        if not caller.owner and not caller.account_level:
            require(
                info is not None
                and access.may_read(
                    caller, info.get("x-container-read"), call.header("referer"), listing=False
                ),
                caller,
            )
        return await get(call)
    write_acl = info.get("x-container-write") if info is not None else ""
    require(access.may_write(caller, write_acl), caller)
    if info is None:
        raise errors.NotFound()
    if call.method == "PUT":
        return await put(call, info)
    if call.method == "POST":
        return await post(call, info)
    if call.method == "DELETE":
        return await delete(call, info)
    if call.method == "COPY":
        return await copy(call, info)
    raise errors.MethodNotAllowed()


async def _from_sync(call: Call) -> None:
    """A container sync's replay (as Swift's container_sync middleware lets it in): with the
    key its container holds, and a realm's signature when it has one, it writes as the
    owner, at the timestamp it brings. A bad signature is refused; a wrong key is a request
    like any other."""
    info = await call.container_info()
    timestamp = call.header("x-timestamp")
    if info is None or not timestamp:
        return
    raw = call.request.scope.get("raw_path") or call.request.url.path.encode()
    signed = call.header("x-container-sync-auth")
    if not sync.authorised(
        call.st.settings,
        call.method,
        raw.decode("latin-1"),
        timestamp,
        call.header("x-container-sync-key"),
        signed,
        info.get("x-container-sync-key"),
    ):
        if signed:
            raise errors.Unauthorized("X-Container-Sync-Auth header not valid")
        return
    call._caller = access.Caller(None, call.account, owner=True, reseller=False)
    call.timestamp = constraints.check_timestamp(timestamp)


def _not_newer(call: Call, found: Found | None) -> None:
    """A write that brings its timestamp loses to what is stored at or after it (409), a
    POST's metadata included: a synced object replayed back is not taken again."""
    if call.timestamp is not None and found is not None:
        if max(found.stored.order) >= call.timestamp:
            raise errors.Conflict()


# -- reads ------------------------------------------------------------------------------------


async def current(call: Call, account: str, container: str, obj: str) -> Found | None:
    """The object's newest replica; None if it does not exist (deleted or expired)."""
    found = await call.st.replicas.newest(account, container, obj)
    if found is None or found.stored.deleted or _expired(found):
        return None
    return found


def _expired(found: Found) -> bool:
    delete_at = found.stored.metadata.get("X-Delete-At")
    return int(delete_at) <= time.time() if delete_at else False


def object_headers(found: Found) -> dict[str, str]:
    meta = found.stored.metadata
    ts = found.stored.timestamp
    headers = {
        "Content-Type": meta.get("Content-Type", "application/octet-stream"),
        "Etag": meta.get("ETag", ""),
        "Last-Modified": http_date(found.stored.meta_timestamp or ts),
        "X-Timestamp": found.stored.meta_timestamp or ts,
        "Accept-Ranges": "bytes",
    }
    for key, value in meta.items():
        lower = key.lower()
        if lower.startswith("x-object-meta-") or lower in SETTABLE:
            headers[title(lower)] = value
    if meta.get("X-Static-Large-Object"):
        headers["Etag"] = f'"{meta.get("X-Slo-Etag", meta.get("ETag", ""))}"'
        headers["X-Static-Large-Object"] = "True"
    return headers


async def follow(call: Call, found: Found) -> tuple[Found, str]:
    """The object a symlink points at (read with the caller's rights), and its path."""
    caller = await call.caller()
    location = ""
    for hop in range(SYMLINK_LOOP_LIMIT + 1):
        meta = found.stored.metadata
        target = meta.get("X-Symlink-Target")
        if not target:
            return found, location
        if hop == SYMLINK_LOOP_LIMIT:
            break
        account = meta.get("X-Symlink-Target-Account", call.account)
        container, _, obj = target.partition("/")
        location = f"/v1/{account}/{container}/{obj}"
        info = await call.st.containers.info(account, container)
        if not (caller.owner and account == call.account) and not caller.reseller:
            allowed = info is not None and access.may_read(
                caller, info.get("x-container-read"), call.header("referer"), listing=False
            )
            if not allowed:
                raise caller.denied()
        nxt = await current(call, account, container, obj)
        if nxt is None:
            raise errors.NotFound()
        found = nxt
    raise errors.Conflict("Too many levels of symbolic links, maximum allowed is 2")


async def get(call: Call) -> Response:
    assert call.container is not None and call.obj is not None
    found = await current(call, call.account, call.container, call.obj)
    if found is None:
        raise errors.NotFound()
    link = found.stored.metadata.get("X-Symlink-Target")
    if link and call.params.get("symlink") != "get":
        found, location = await follow(call, found)
        headers = object_headers(found)
        headers["Content-Location"] = location
    else:
        headers = object_headers(found)
    meta = found.stored.metadata
    manifest_get = call.params.get("multipart-manifest") == "get"
    if meta.get("X-Object-Manifest") and not manifest_get:
        return await large.dlo(call, found, headers)
    if meta.get("X-Static-Large-Object") and not manifest_get:
        return await large.slo(call, found, headers)
    if manifest_get and meta.get("X-Static-Large-Object"):
        headers["Etag"] = meta.get("ETag", "")
        headers["Content-Type"] = "application/json; charset=utf-8"
    status = conditions.check(call.headers, headers["Etag"], headers["X-Timestamp"])
    if status is not None:
        return empty(status, headers if status == 304 else {})
    return serve(call, found, headers, found.stored.size)


def serve(call: Call, found: Found, headers: dict[str, str], size: int) -> Response:
    """The body (or ranges of it) of a found replica."""
    spans = conditions.ranges(call.header("range"), size)
    media = headers["Content-Type"]  # sent as stored (no charset added)
    if call.method == "HEAD":
        headers["Content-Length"] = str(size)
        return Response(None, 200, headers=headers)
    held = found.stored.body
    if spans is None:
        if held is not None:
            return _whole(200, headers, held)
        return _respond(200, headers, size, call.st.replicas.read(found, 0, size))
    if len(spans) == 1:
        start, end = spans[0]
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        if held is not None:
            return _whole(206, headers, held[start:end])
        return _respond(206, headers, end - start, call.st.replicas.read(found, start, end))
    mark = conditions.boundary()
    parts = [
        (
            f"--{mark}\r\nContent-Type: {media}\r\nContent-Range: bytes {s}-{e - 1}/{size}\r\n\r\n".encode(),
            s,
            e,
        )
        for s, e in spans
    ]
    tail = f"\r\n--{mark}--".encode()
    total = sum(len(p) + (e - s) for p, s, e in parts) + 2 * (len(parts) - 1) + len(tail)

    async def body() -> AsyncIterator[bytes]:
        for n, (head, s, e) in enumerate(parts):
            yield (b"\r\n" if n else b"") + head
            async for chunk in call.st.replicas.read(found, s, e):
                yield chunk
        yield tail

    headers["Content-Type"] = f"multipart/byteranges;boundary={mark}"
    return _respond(206, headers, total, body())


def _whole(status: int, headers: dict[str, str], data: bytes) -> Response:
    """A small object's body, read with its metadata: sent at once, with no streaming task."""
    headers["Content-Length"] = str(len(data))
    return Response(data, status, headers=headers)


def _respond(
    status: int, headers: dict[str, str], length: int, body: AsyncIterator[bytes]
) -> Response:
    headers["Content-Length"] = str(length)
    return StreamingResponse(body, status_code=status, headers=headers)


# -- writes -----------------------------------------------------------------------------------


def _delete_at(call: Call) -> str | None:
    after = call.header("x-delete-after")
    at = call.header("x-delete-at")
    if after:
        try:
            seconds = int(after)
        except ValueError:
            raise errors.BadRequest("Non-integer X-Delete-After") from None
        if seconds < 0:
            raise errors.BadRequest("X-Delete-After in past")
        return str(int(time.time() + seconds))
    if at:
        try:
            when = int(float(at))
        except ValueError:
            raise errors.BadRequest("Non-integer X-Delete-At") from None
        if when < time.time():
            raise errors.BadRequest("X-Delete-At in past")
        return str(when)
    return None


def new_metadata(call: Call, names: tuple[str, ...]) -> dict[str, str]:
    """User metadata and the settable headers of a PUT or POST, checked against the limits."""
    meta: dict[str, str] = {}
    for key, value in call.headers.items():
        lower = key.lower()
        if lower.startswith("x-object-meta-") or lower in names:
            meta[title(lower)] = value
    constraints.check_metadata(meta, "object")
    meta.pop("X-Delete-After", None)
    delete_at = _delete_at(call)
    if delete_at:
        meta["X-Delete-At"] = delete_at
    else:
        meta.pop("X-Delete-At", None)
    return meta


def content_type(call: Call, name: str) -> str:
    given = call.header("content-type")
    if given and call.header("x-detect-content-type").lower() not in ("true", "1", "yes"):
        return given
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


async def request_body(call: Call) -> AsyncIterator[bytes]:
    """The request's body (or the one the call was given), as it streams in."""
    if call.body is not None:
        async for chunk in call.body:
            yield chunk
        return
    try:
        async for chunk in call.request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise Disconnected("Client Disconnect") from None


async def put(call: Call, info: ContainerInfo) -> Response:
    assert call.container is not None and call.obj is not None
    if call.header("x-copy-from"):
        return await copy_from(call, info)
    length_raw = call.header("content-length")
    chunked = "chunked" in call.header("transfer-encoding").lower()
    if not length_raw and not chunked:
        raise errors.LengthRequired()
    length = None
    if length_raw and not chunked:
        if not length_raw.isdigit():
            raise errors.BadRequest("Invalid Content-Length")
        length = int(length_raw)
        if length > constraints.MAX_FILE_SIZE:
            raise errors.PayloadTooLarge("Your request is too large.")
    if call.header("if-none-match") == "*":
        if await current(call, call.account, call.container, call.obj) is not None:
            raise errors.PreconditionFailed()
    elif call.header("if-none-match"):
        raise errors.BadRequest("Only If-None-Match: * is supported on PUT")
    if call.header("x-static-large-object"):
        raise errors.BadRequest("X-Static-Large-Object is a reserved header")
    if call.timestamp is not None:
        _not_newer(call, await call.st.replicas.newest(call.account, call.container, call.obj))
    meta = new_metadata(call, SETTABLE)
    meta["Content-Type"] = content_type(call, call.obj)
    if meta.get("X-Symlink-Target"):
        _check_symlink(meta, length)
        meta["Content-Type"] = "application/symlink"
    if call.params.get("multipart-manifest") == "put":
        return await large.put_slo(call, info, meta)
    etag = call.header("etag") or None
    await _quota(call, info, length or 0)
    return await store(call, info, meta, request_body(call), length, etag)


def _check_symlink(meta: dict[str, str], length: int | None) -> None:
    if length != 0:
        raise errors.BadRequest("Symlink requests require a zero byte body")
    container, _, obj = meta["X-Symlink-Target"].lstrip("/").partition("/")
    if not container or not obj:
        raise errors.PreconditionFailed(
            "X-Symlink-Target header must be of the form <container name>/<object name>"
        )
    meta["X-Symlink-Target"] = f"{container}/{obj}"


async def store(
    call: Call,
    info: ContainerInfo,
    meta: dict[str, str],
    body: AsyncIterator[bytes],
    length: int | None,
    etag: str | None,
    account: str | None = None,
    _versioning: bool = True,
) -> Response:
    """Write an object's replicas and its listing row; 201 with its ETag."""
    assert call.container is not None and call.obj is not None
    st = call.st
    account = account or call.account
    ts = call.timestamp or constraints.now()
    meta = {**meta, "X-Timestamp": ts, "name": f"/{account}/{info.name}/{call.obj}"}
    if _versioning:
        await large.version_before_write(call, info)
    if length is not None and length <= constraints.SMALL_OBJECT:
        data = b"".join([c async for c in body])
        if len(data) < length:
            raise Disconnected("Client Disconnect")
        if len(data) > length:
            raise errors.BadRequest("The body is longer than its Content-Length")
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if etag is not None and etag.strip('"').lower() != digest:
            raise errors.UnprocessableEntity()
        full = {**meta, "ETag": digest, "Content-Length": str(len(data))}
        nodes = await st.replicas.put_whole(account, info.name, call.obj, data, full)
        size = len(data)
    else:
        room = await _room(call, info) if length is None else None
        nodes, digest, size = await st.replicas.put_stream(
            account, info.name, call.obj, body, meta, length, etag, room
        )
    await call.st.listings.follow(
        nodes,
        Pending(
            account,
            info.name,
            call.obj,
            ts,
            False,
            int(meta.get("X-Slo-Size", size)),
            _listed_type(meta, account),
            meta.get("X-Slo-Etag", digest),
            {"delete_at": meta.get("X-Delete-At")} if meta.get("X-Delete-At") else {},
        ),
    )
    return empty(
        201,
        {"Etag": digest, "Last-Modified": http_date(ts), "X-Timestamp": ts},
        media="text/html; charset=UTF-8",
    )


def _listed_type(meta: dict[str, str], account: str) -> str:
    """The content type the listing keeps: a symlink's carries its target's path, which
    listings show as `symlink_path` (as Swift's symlink middleware does)."""
    target = meta.get("X-Symlink-Target")
    if not target:
        return meta["Content-Type"]
    where = meta.get("X-Symlink-Target-Account", account)
    return f"{meta['Content-Type']};symlink_path={quote(f'/v1/{where}/{target}')}"


async def _quota(call: Call, info: ContainerInfo, size: int) -> None:
    """Container and account quotas (Swift's container_quotas and account_quotas)."""
    limit_count = info.get("x-container-meta-quota-count")
    if limit_count and info.object_count + 1 > int(limit_count):
        raise errors.PayloadTooLarge("Upload exceeds quota.")
    account = await _bound_account(call)
    account_count = account.get("x-account-quota-count") if account else ""
    if account and account_count and account.object_count + 1 > int(account_count):
        raise errors.PayloadTooLarge("Upload exceeds quota.")
    room = await _room(call, info)
    if room is not None and size > room:
        raise errors.PayloadTooLarge("Upload exceeds quota.")


async def _room(call: Call, info: ContainerInfo) -> int | None:
    """The bytes the container and account quotas leave (None: no byte quota). A chunked
    upload that grows past it is refused before anything is stored."""
    rooms = []
    limit_bytes = info.get("x-container-meta-quota-bytes")
    if limit_bytes:
        rooms.append(int(limit_bytes) - info.bytes_used)
    account = await _bound_account(call)
    for key in ("x-account-meta-quota-bytes", "x-account-quota-bytes"):
        if account and account.get(key):
            rooms.append(int(account.get(key)) - account.bytes_used)
    return min(rooms) if rooms else None


async def _bound_account(call: Call) -> AccountInfo | None:
    """The account whose quotas bind this request: none for a reseller admin, whom Swift's
    account_quotas lets past them."""
    return None if (await call.caller()).reseller else await call.account_info()


async def post(call: Call, info: ContainerInfo) -> Response:
    assert call.obj is not None
    found = await current(call, call.account, info.name, call.obj)
    if found is None:
        raise errors.NotFound()
    meta = new_metadata(call, POSTABLE)
    ts = constraints.now()
    meta["X-Timestamp"] = ts
    if call.header("content-type"):
        meta["Content-Type"] = call.header("content-type")
    nodes = await call.st.replicas.post(found, meta)
    await call.st.listings.follow(
        nodes,
        Pending(
            call.account,
            info.name,
            call.obj,
            ts,
            False,
            0,
            meta.get("Content-Type", ""),
            "",
            {"meta_only": True, "delete_at": meta.get("X-Delete-At")},
        ),
    )
    return empty(202)


async def delete(call: Call, info: ContainerInfo) -> Response:
    assert call.obj is not None
    found = await call.st.replicas.newest(call.account, info.name, call.obj)
    if found is None or found.stored.deleted:
        raise errors.NotFound()
    _not_newer(call, found)
    if _expired(found):
        # As Swift's object server: deleting an expired object (before the expirer came)
        # removes it, listing row included, and answers 404 as reading it would.
        await remove(call, info.name, call.obj, found)
        raise errors.NotFound()
    if await large.restore_on_delete(call, info):
        return empty(204)
    if call.params.get("multipart-manifest") == "delete" and found.stored.metadata.get(
        "X-Static-Large-Object"
    ):
        await large.delete_segments(call, found)
    await remove(call, info.name, call.obj, found)
    return empty(204)


async def remove(
    call: Call, container: str, obj: str, found: Found, account: str | None = None
) -> None:
    """Tombstone every replica and drop the listing row."""
    ts = call.timestamp or constraints.now()
    nodes = await call.st.replicas.delete(found, ts)
    await call.st.listings.follow(nodes, Pending(account or call.account, container, obj, ts, True))


async def copy_from(
    call: Call,
    info: ContainerInfo,
    source: str | None = None,
    account: str | None = None,
    src_account: str | None = None,
) -> Response:
    """PUT with `X-Copy-From: <container>/<object>` (or COPY): the source's content and
    metadata, overridden by this request's metadata."""
    assert call.obj is not None
    raw = (source or call.header("x-copy-from")).lstrip("/")
    src_container, _, src_obj = raw.partition("/")
    if not src_container or not src_obj:
        raise errors.PreconditionFailed(
            "X-Copy-From header must be of the form <container name>/<object name>"
        )
    src_account = src_account or call.header("x-copy-from-account") or call.account
    caller = await call.caller()
    src_info = await call.st.containers.info(src_account, src_container)
    if src_account != call.account or not caller.owner:
        require(
            src_info is not None
            and (
                caller.owner
                and src_account == call.account
                or access.may_read(caller, src_info.get("x-container-read"), "", False)
            ),
            caller,
        )
    found = await current(call, src_account, src_container, src_obj)
    if found is None:
        raise errors.NotFound()
    meta = {
        k: v
        for k, v in found.stored.metadata.items()
        if k.lower().startswith("x-object-meta-") or k.lower() in SETTABLE
    }
    meta["Content-Type"] = found.stored.metadata.get("Content-Type", "application/octet-stream")
    if call.header("x-fresh-metadata").lower() in ("true", "1"):
        meta = {"Content-Type": meta["Content-Type"]}
    meta.update(new_metadata(call, SETTABLE))
    if call.header("content-type"):
        meta["Content-Type"] = call.header("content-type")
    meta.pop("X-Static-Large-Object", None)
    size = found.stored.size
    await _quota(call, info, size)
    body = call.st.replicas.read(found, 0, size)
    response = await store(call, info, meta, body, size, None, account=account)
    # As Swift's copy middleware: where it came from, and the copy's metadata.
    response.headers["X-Copied-From-Account"] = quote(src_account)
    response.headers["X-Copied-From"] = quote(f"{src_container}/{src_obj}")
    response.headers["X-Copied-From-Last-Modified"] = http_date(found.stored.timestamp)
    for key, value in meta.items():
        if key.lower().startswith("x-object-meta-") or key == "X-Delete-At":
            response.headers[key] = value
    return response


async def copy(call: Call, info: ContainerInfo) -> Response:
    """COPY with `Destination: <container>/<object>`: a PUT with X-Copy-From in reverse."""
    assert call.container is not None and call.obj is not None
    dest = call.header("destination").lstrip("/")
    dest_container, _, dest_obj = dest.partition("/")
    if not dest_container or not dest_obj:
        raise errors.PreconditionFailed(
            "Destination header must be of the form <container name>/<object name>"
        )
    dest_account = call.header("destination-account") or call.account
    dest_info = await call.st.containers.info(dest_account, dest_container)
    if dest_info is None:
        raise errors.NotFound()
    if dest_account != call.account:
        caller = await call.caller()
        require(
            caller.reseller or access.may_write(caller, dest_info.get("x-container-write")), caller
        )
    source = f"{call.container}/{call.obj}"
    target = Call(
        call.request,
        call.st,
        "PUT",
        dest_account,
        dest_container,
        dest_obj,
        call.headers,
        call.params,
        call.context,
    )
    return await copy_from(target, dest_info, source, dest_account, call.account)
