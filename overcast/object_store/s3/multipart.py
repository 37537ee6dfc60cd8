"""S3 multipart uploads on Swift, as Swift's s3api keeps them: the upload is a marker object
`<key>/<upload id>` in the bucket's `+segments` container (holding the object's metadata),
parts are `<key>/<upload id>/<part number>` there, and completing writes a static large
object over the parts whose ETag is S3's (md5 of the parts' md5s, `-<count>`).

Upload ids are 32 hex digits that begin with the time of initiation, so ordering uploads by
id orders them as S3 does (by key, then by initiation) and an `upload-id-marker` pages them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import AsyncIterator

from starlette.responses import Response

from overcast.common import errors
from overcast.object_store import access, constraints, listing, models
from overcast.object_store.api import objects
from overcast.object_store.s3 import buckets, xml
from overcast.object_store.s3.buckets import OWNER, SEGMENTS
from overcast.object_store.s3.errors import S3Error, translate
from overcast.object_store.s3.objects import swift_headers
from overcast.object_store.s3.request import S3Request

MIN_PART = 5 * 1024 * 1024
MAX_PARTS = 10000
MAX_LISTED = 1000  # uploads or parts in one listing
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def _marker(req: S3Request, upload_id: str) -> str:
    return f"{req.key}/{upload_id}"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _upload(req: S3Request) -> str:
    """The upload id of the request, if its marker exists (NoSuchUpload otherwise)."""
    upload_id = req.params.get("uploadId", "")
    if not upload_id or not upload_id.isalnum():
        raise S3Error("NoSuchUpload", "The specified upload does not exist.", 404)
    found = await objects.current(
        req.swift("HEAD", None, None), req.account, req.bucket + SEGMENTS, _marker(req, upload_id)
    )
    if found is None:
        raise S3Error("NoSuchUpload", "The specified upload does not exist.", 404)
    return upload_id


async def create(req: S3Request) -> Response:
    info = await req.st.containers.info(req.account, req.bucket)
    if info is None:
        raise S3Error("NoSuchBucket", "The specified bucket does not exist.", 404)
    segments = req.bucket + SEGMENTS
    call = req.swift("PUT", segments, None)
    caller = await call.caller()
    if not access.may_write(caller, info.get("x-container-write")):
        raise S3Error("AccessDenied", "Access Denied.", 403)
    if await req.st.containers.info(req.account, segments) is None:
        await req.st.containers.put(req.account, segments, constraints.now(), {})
    upload_id = f"{time.time_ns():016x}{os.urandom(8).hex()}"
    headers = swift_headers(req)
    headers["content-length"] = "0"
    try:
        await objects.handle(
            req.swift("PUT", segments, _marker(req, upload_id), headers, body=_once(b""))
        )
    except errors.OvercastError as exc:
        raise translate(exc) from exc
    return xml.document(
        "InitiateMultipartUploadResult",
        [("Bucket", req.bucket), ("Key", req.key), ("UploadId", upload_id)],
    )


async def upload_part(req: S3Request) -> Response:
    upload_id = await _upload(req)
    try:
        number = int(req.params.get("partNumber", ""))
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PARTS:
        raise S3Error(
            "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", 400
        )
    headers = swift_headers(req)
    headers.pop("content-type", None)
    name = f"{_marker(req, upload_id)}/{number:05d}"
    try:
        response = await objects.handle(
            req.swift("PUT", req.bucket + SEGMENTS, name, headers, body=req.body())
        )
    except errors.OvercastError as exc:
        raise translate(exc) from exc
    return Response(b"", headers={"ETag": f'"{response.headers["etag"]}"'})


async def _parts(req: S3Request, upload_id: str) -> list[models.Object]:
    info = await req.st.containers.info(req.account, req.bucket + SEGMENTS)
    if info is None:
        return []
    query = listing.Query(prefix=_marker(req, upload_id) + "/", limit=MAX_PARTS)
    async with req.st.db.reader() as session:
        return [
            r
            for r in await listing.walk(session, query, listing.objects_page(info.id))
            if not isinstance(r, str)
        ]


def _count(req: S3Request, name: str, default: int) -> int:
    """A count parameter; at most `default`, which it also is when absent."""
    try:
        value = int(req.params.get(name, default))
    except ValueError:
        value = -1
    if value < 0:
        raise S3Error("InvalidArgument", f"Argument {name} must be an integer >= 0", 400)
    return min(value, default)


async def list_parts(req: S3Request) -> Response:
    upload_id = await _upload(req)
    limit = _count(req, "max-parts", MAX_LISTED)
    after = (
        _count(req, "part-number-marker", MAX_PARTS) if "part-number-marker" in req.params else 0
    )
    found = [(int(p.name.rsplit("/", 1)[1]), p) for p in await _parts(req, upload_id)]
    later = [(n, p) for n, p in found if n > after]
    shown = later[:limit]
    parts = [
        (
            "Part",
            [
                ("PartNumber", n),
                ("LastModified", xml.iso(p.ts)),
                ("ETag", f'"{p.etag}"'),
                ("Size", p.size),
            ],
        )
        for n, p in shown
    ]
    return xml.document(
        "ListPartsResult",
        [
            ("Bucket", req.bucket),
            ("Key", req.key),
            ("UploadId", upload_id),
            ("Initiator", OWNER),
            ("Owner", OWNER),
            ("StorageClass", "STANDARD"),
            ("PartNumberMarker", after),
            ("NextPartNumberMarker", shown[-1][0] if shown else after),
            ("MaxParts", limit),
            ("IsTruncated", len(later) > limit),
            *parts,
        ],
    )


async def _uploads(req: S3Request, prefix: str) -> list[tuple[str, str, str]]:
    """(key, upload id, initiation timestamp) of every upload in progress whose key starts
    with `prefix`, by key then upload id."""
    info = await req.st.containers.info(req.account, req.bucket + SEGMENTS)
    if info is None:
        return []
    found = []
    marker = ""
    async with req.st.db.reader() as session:
        while True:
            query = listing.Query(prefix=prefix, marker=marker, limit=MAX_LISTED)
            page = await listing.walk(session, query, listing.objects_page(info.id))
            rows = [r for r in page if not isinstance(r, str)]  # no delimiter: rows only
            for row in rows:
                key, _, last = row.name.rpartition("/")
                if key.startswith(prefix) and UPLOAD_ID.fullmatch(last):
                    found.append((key, last, row.ts))
            if len(rows) < MAX_LISTED:
                break
            marker = rows[-1].name
    return sorted(found)


async def list_uploads(req: S3Request) -> Response:
    """ListMultipartUploads: `prefix`, `delimiter`, `key-marker` with `upload-id-marker`,
    `max-uploads`."""
    await buckets.bucket_id(req)
    p = req.params
    limit = _count(req, "max-uploads", MAX_LISTED)
    prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
    key_marker, id_marker = p.get("key-marker", ""), p.get("upload-id-marker", "")
    entries: list[tuple[str, str, str] | str] = []  # uploads, and common prefixes as strings
    truncated = False
    for key, upload_id, ts in await _uploads(req, prefix):
        if key_marker and (key, upload_id) <= (key_marker, id_marker if id_marker else "\uffff"):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        entry: tuple[str, str, str] | str = (key, upload_id, ts)
        if cut >= 0:
            entry = key[: cut + len(delimiter)]
            if entries and entries[-1] == entry:
                continue
            if key_marker and entry <= key_marker:
                continue  # a prefix already given on an earlier page
        if len(entries) == limit:
            truncated = True
            break
        entries.append(entry)
    last = entries[-1] if entries else None
    body: list[xml.Node] = [
        ("Bucket", req.bucket),
        ("KeyMarker", key_marker),
        ("UploadIdMarker", id_marker),
        ("NextKeyMarker", last if isinstance(last, str) else last[0] if last else ""),
        ("NextUploadIdMarker", last[1] if isinstance(last, tuple) else ""),
        ("Prefix", prefix),
        *([("Delimiter", delimiter)] if delimiter else []),
        ("MaxUploads", limit),
        ("IsTruncated", truncated),
    ]
    for entry in entries:
        if isinstance(entry, str):
            continue
        key, upload_id, ts = entry
        body.append(
            (
                "Upload",
                [
                    ("Key", key),
                    ("UploadId", upload_id),
                    ("Initiator", OWNER),
                    ("Owner", OWNER),
                    ("StorageClass", "STANDARD"),
                    ("Initiated", xml.iso(ts)),
                ],
            )
        )
    body += [("CommonPrefixes", [("Prefix", e)]) for e in entries if isinstance(e, str)]
    return xml.document("ListMultipartUploadsResult", body)


async def complete(req: S3Request) -> Response:
    upload_id = await _upload(req)
    root = xml.parse(await req.read(1024 * 1024))
    wanted = [
        (int(p.findtext("PartNumber") or 0), (p.findtext("ETag") or "").strip().strip('"'))
        for p in root.findall("Part")
    ]
    if not wanted:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed.", 400)
    numbers = [n for n, _ in wanted]
    if numbers != sorted(set(numbers)):
        raise S3Error("InvalidPartOrder", "The list of parts was not in ascending order.", 400)
    have = {int(p.name.rsplit("/", 1)[1]): p for p in await _parts(req, upload_id)}
    manifest = []
    digest = hashlib.md5(usedforsecurity=False)
    for index, (number, etag) in enumerate(wanted):
        part = have.get(number)
        if part is None or part.etag != etag:
            raise S3Error(
                "InvalidPart", "One or more of the specified parts could not be found.", 400
            )
        if part.size < MIN_PART and index < len(wanted) - 1:
            raise S3Error(
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
                400,
            )
        manifest.append(
            {"path": f"/{req.bucket}{SEGMENTS}/{part.name}", "etag": etag, "size_bytes": part.size}
        )
        digest.update(bytes.fromhex(etag))
    s3_etag = f"{digest.hexdigest()}-{len(wanted)}"
    marker = await objects.current(
        req.swift("HEAD", None, None), req.account, req.bucket + SEGMENTS, _marker(req, upload_id)
    )
    assert marker is not None
    headers = {
        k.lower(): v
        for k, v in marker.stored.metadata.items()
        if k.lower().startswith("x-object-meta-")
        or k.lower() in ("content-type", "content-disposition", "content-encoding")
    }
    raw = json.dumps(manifest).encode()
    headers["content-length"] = str(len(raw))
    info = await req.st.containers.info(req.account, req.bucket)
    if info is None:
        raise S3Error("NoSuchBucket", "The specified bucket does not exist.", 404)
    call = req.swift(
        "PUT", req.bucket, req.key, headers, params={"multipart-manifest": "put"}, body=_once(raw)
    )
    call.slo_etag = s3_etag
    try:
        await objects.handle(call)
    except errors.OvercastError as exc:
        raise translate(exc) from exc
    await objects.remove(
        req.swift("DELETE", None, None), req.bucket + SEGMENTS, _marker(req, upload_id), marker
    )
    return xml.document(
        "CompleteMultipartUploadResult",
        [
            ("Location", f"/{req.bucket}/{req.key}"),
            ("Bucket", req.bucket),
            ("Key", req.key),
            ("ETag", f'"{s3_etag}"'),
        ],
    )


async def abort(req: S3Request) -> Response:
    upload_id = await _upload(req)
    segments = req.bucket + SEGMENTS
    for part in await _parts(req, upload_id):
        found = await objects.current(
            req.swift("HEAD", None, None), req.account, segments, part.name
        )
        if found is not None:
            await objects.remove(req.swift("DELETE", None, None), segments, part.name, found)
    marker = await objects.current(
        req.swift("HEAD", None, None), req.account, segments, _marker(req, upload_id)
    )
    if marker is not None:
        await objects.remove(
            req.swift("DELETE", None, None), segments, _marker(req, upload_id), marker
        )
    return Response(b"", status_code=204)
