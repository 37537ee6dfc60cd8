"""S3 multipart uploads on Swift, as Swift's s3api keeps them: the upload is a marker object
`<key>/<upload id>` in the bucket's `+segments` container (holding the object's metadata),
parts are `<key>/<upload id>/<part number>` there, and completing writes a static large
object over the parts whose ETag is S3's (md5 of the parts' md5s, `-<count>`)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator

from starlette.responses import Response

from overcast.common import errors
from overcast.object_store import access, constraints, listing, models
from overcast.object_store.api import objects
from overcast.object_store.s3 import xml
from overcast.object_store.s3.buckets import SEGMENTS
from overcast.object_store.s3.errors import S3Error, translate
from overcast.object_store.s3.objects import swift_headers
from overcast.object_store.s3.request import S3Request

MIN_PART = 5 * 1024 * 1024
MAX_PARTS = 10000


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
    upload_id = uuid.uuid4().hex
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


async def list_parts(req: S3Request) -> Response:
    upload_id = await _upload(req)
    parts = [
        (
            "Part",
            [
                ("PartNumber", int(p.name.rsplit("/", 1)[1])),
                ("LastModified", xml.iso(p.ts)),
                ("ETag", f'"{p.etag}"'),
                ("Size", p.size),
            ],
        )
        for p in await _parts(req, upload_id)
    ]
    return xml.document(
        "ListPartsResult",
        [
            ("Bucket", req.bucket),
            ("Key", req.key),
            ("UploadId", upload_id),
            ("StorageClass", "STANDARD"),
            ("IsTruncated", False),
            *parts,
        ],
    )


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
