"""Large objects and versions, as Swift's middlewares do them: dynamic large objects
(`X-Object-Manifest: <container>/<prefix>`: the segments listed under a prefix), static large
objects (`?multipart-manifest=put` with a JSON list of checked segments) and object
versioning (`X-Versions-Location`: a stack restored on delete; `X-History-Location`: every
overwritten or deleted version kept). Called by the object routes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.responses import Response, StreamingResponse

from overcast.common import errors
from overcast.object_store import access, listing
from overcast.object_store.api import conditions
from overcast.object_store.api.call import Call, empty
from overcast.object_store.containers import ContainerInfo
from overcast.object_store.proxy.objects import Found

MAX_MANIFEST_SEGMENTS = 1000
MAX_MANIFEST_SIZE = 8 * 1024 * 1024
MIN_SEGMENT_SIZE = 1


@dataclass(frozen=True)
class Segment:
    container: str
    name: str
    size: int
    etag: str


async def _segments_stream(
    call: Call, account: str, segments: list[Segment], start: int, end: int
) -> AsyncIterator[bytes]:
    from overcast.object_store.api import objects

    caller = await call.caller()
    readable: set[str] = set()
    offset = 0
    for seg in segments:
        seg_start, seg_end = offset, offset + seg.size
        offset = seg_end
        if seg_end <= start or seg_start >= end:
            continue
        if seg.container not in readable and not caller.owner:
            info = await call.st.containers.info(account, seg.container)
            if info is None or not access.may_read(caller, info.get("x-container-read"), "", False):
                raise caller.denied()
        readable.add(seg.container)
        found = await objects.current(call, account, seg.container, seg.name)
        if found is None or found.stored.size != seg.size:
            raise errors.Conflict(f"Segment {seg.container}/{seg.name} changed or went away")
        lo = max(start, seg_start) - seg_start
        hi = min(end, seg_end) - seg_start
        async for chunk in call.st.replicas.read(found, lo, hi):
            yield chunk


def _serve(call: Call, headers: dict[str, str], segments: list[Segment], account: str) -> Response:
    total = sum(s.size for s in segments)
    status = conditions.check(call.headers, headers["Etag"], headers["X-Timestamp"])
    if status is not None:
        return empty(status, headers if status == 304 else {})
    spans = conditions.ranges(call.header("range"), total) if total else None
    start, end, code = 0, total, 200
    if spans is not None and len(spans) == 1:
        start, end = spans[0]
        code = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
    headers["Content-Length"] = str(end - start)
    if call.method == "HEAD":
        return Response(None, code, headers=headers)
    body = _segments_stream(call, account, segments, start, end)
    return StreamingResponse(body, status_code=code, headers=headers)


async def dlo(call: Call, found: Found, headers: dict[str, str]) -> Response:
    manifest = found.stored.metadata["X-Object-Manifest"]
    container, _, prefix = manifest.lstrip("/").partition("/")
    caller = await call.caller()
    info = await call.st.containers.info(call.account, container)
    segments: list[Segment] = []
    if info is not None:
        if not access.may_read(caller, info.get("x-container-read"), call.header("referer"), False):
            raise caller.denied()
        async with call.st.db.reader() as session:
            rows = await listing.walk(
                session, listing.Query(prefix=prefix, limit=10000), listing.objects_page(info.id)
            )
        segments = [
            Segment(container, r.name, r.size, r.etag) for r in rows if not isinstance(r, str)
        ]
    digest = hashlib.md5(usedforsecurity=False)
    for seg in segments:
        digest.update(seg.etag.encode())
    headers["Etag"] = f'"{digest.hexdigest()}"'
    return _serve(call, headers, segments, call.account)


async def slo(call: Call, found: Found, headers: dict[str, str]) -> Response:
    raw = b"".join([c async for c in call.st.replicas.read(found, 0, found.stored.size)])
    entries = json.loads(raw)
    segments = []
    for e in entries:
        container, _, name = e["name"].lstrip("/").partition("/")
        segments.append(Segment(container, name, int(e["bytes"]), e["hash"]))
    return _serve(call, headers, segments, call.account)


async def put_slo(call: Call, info: ContainerInfo, meta: dict[str, str]) -> Response:
    """Store an SLO manifest after checking every segment exists (and matches the etag and
    size the manifest gives); 400 listing the problems otherwise, nothing stored."""
    from overcast.object_store.api import objects

    raw = b""
    async for chunk in call.body if call.body is not None else call.request.stream():
        raw += chunk
        if len(raw) > MAX_MANIFEST_SIZE:
            raise errors.PayloadTooLarge("Manifest File > 8388608 bytes")
    try:
        given = json.loads(raw)
    except ValueError:
        raise errors.BadRequest("Manifest must be valid JSON.") from None
    if not isinstance(given, list) or not given or len(given) > MAX_MANIFEST_SEGMENTS:
        raise errors.BadRequest(
            f"Manifest must be a list of 1 to {MAX_MANIFEST_SEGMENTS} segments."
        )
    problems: list[str] = []
    entries: list[dict[str, object]] = []
    caller = await call.caller()
    for item in given:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise errors.BadRequest("Each segment needs a path")
        path = item["path"].lstrip("/")
        container, _, name = path.partition("/")
        seg_info = await call.st.containers.info(call.account, container)
        if seg_info is not None and not access.may_read(
            caller, seg_info.get("x-container-read"), "", False
        ):
            raise caller.denied()
        found = await objects.current(call, call.account, container, name) if name else None
        if found is None:
            problems.append(f"{path}, 404 Not Found")
            continue
        etag = found.stored.metadata.get("ETag", "")
        if item.get("etag") and str(item["etag"]).strip('"') != etag:
            problems.append(f"{path}, Etag Mismatch")
        if item.get("size_bytes") is not None and int(item["size_bytes"]) != found.stored.size:
            problems.append(f"{path}, Size Mismatch")
        entries.append(
            {
                "name": f"/{container}/{name}",
                "bytes": found.stored.size,
                "hash": etag,
                "content_type": found.stored.metadata.get("Content-Type", ""),
            }
        )
    if problems:
        raise errors.BadRequest("Errors:\n" + "\n".join(problems))
    digest = hashlib.md5(usedforsecurity=False)
    for e in entries:
        digest.update(str(e["hash"]).encode())
    manifest = json.dumps(entries).encode()
    total = sum(int(str(e["bytes"])) for e in entries)
    meta = {
        **meta,
        "X-Static-Large-Object": "True",
        "X-Slo-Etag": call.slo_etag or digest.hexdigest(),
        "X-Slo-Size": str(total),
    }

    async def body() -> AsyncIterator[bytes]:
        yield manifest

    response = await objects.store(call, info, meta, body(), len(manifest), None)
    response.headers["Etag"] = f'"{meta["X-Slo-Etag"]}"'
    return response


async def delete_segments(call: Call, found: Found) -> None:
    from overcast.object_store.api import objects

    raw = b"".join([c async for c in call.st.replicas.read(found, 0, found.stored.size)])
    for e in json.loads(raw):
        container, _, name = e["name"].lstrip("/").partition("/")
        seg = await objects.current(call, call.account, container, name)
        if seg is not None:
            await objects.remove(call, container, name, seg)


# -- versioning -------------------------------------------------------------------------------


def archive_name(obj: str, ts: str) -> str:
    return f"{len(obj.encode()):03x}{obj}/{ts}"


async def _archive(call: Call, info: ContainerInfo, target: str) -> bool:
    """Copy the current version of the object into `target`; False if there is none."""
    from overcast.object_store.api import objects

    assert call.obj is not None
    found = await objects.current(call, call.account, info.name, call.obj)
    if found is None:
        return False
    dest = await call.st.containers.info(call.account, target)
    if dest is None:
        raise errors.PreconditionFailed(f"The versions container {target} does not exist")
    name = archive_name(call.obj, found.stored.timestamp)
    archive = Call(
        call.request,
        call.st,
        "PUT",
        call.account,
        target,
        name,
        call.headers,
        {},
        call.context,
        call._caller,
    )
    meta = dict(found.stored.metadata)
    meta.pop("X-Timestamp", None)
    meta.pop("name", None)
    await objects.store(
        archive,
        dest,
        meta,
        call.st.replicas.read(found, 0, found.stored.size),
        found.stored.size,
        None,
        _versioning=False,
    )
    return True


async def version_before_write(call: Call, info: ContainerInfo) -> None:
    target = info.get("x-versions-location") or info.get("x-history-location")
    if target and call.method in ("PUT", "COPY"):
        await _archive(call, info, target)


async def restore_on_delete(call: Call, info: ContainerInfo) -> bool:
    """Versioned deletes: history mode archives then deletes (False: go on deleting); stack
    mode puts the newest archived version back (True: done)."""
    from overcast.object_store.api import objects

    assert call.obj is not None
    history = info.get("x-history-location")
    if history:
        await _archive(call, info, history)
        return False
    stack = info.get("x-versions-location")
    if not stack:
        return False
    versions = await call.st.containers.info(call.account, stack)
    if versions is None:
        return False
    prefix = f"{len(call.obj.encode()):03x}{call.obj}/"
    async with call.st.db.reader() as session:
        rows = await listing.walk(
            session,
            listing.Query(prefix=prefix, limit=1, reverse=True),
            listing.objects_page(versions.id),
        )
    if not rows or isinstance(rows[0], str):
        return False
    newest = rows[0]
    found = await objects.current(call, call.account, stack, newest.name)
    if found is None:
        return False
    meta = {k: v for k, v in found.stored.metadata.items() if k not in ("X-Timestamp", "name")}
    await objects.store(
        call,
        info,
        meta,
        call.st.replicas.read(found, 0, found.stored.size),
        found.stored.size,
        None,
        _versioning=False,
    )
    await objects.remove(call, stack, newest.name, found)
    return True
