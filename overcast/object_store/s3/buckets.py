"""S3 service and bucket operations on Swift containers: ListBuckets, CreateBucket,
HeadBucket, DeleteBucket, ListObjects (v1 and v2), GetBucketLocation, GetBucketVersioning and
DeleteObjects."""

from __future__ import annotations

import base64
import hashlib

from starlette.responses import Response

from overcast.common import errors
from overcast.object_store import constraints, listing
from overcast.object_store.api import containers, objects
from overcast.object_store.s3 import xml
from overcast.object_store.s3.errors import S3Error, translate
from overcast.object_store.s3.request import S3Request

SEGMENTS = "+segments"  # where multipart parts wait (Swift's s3api uses the same suffix)
MAX_KEYS = 1000
MAX_DELETE = 1000
OWNER = [("ID", "overcast"), ("DisplayName", "overcast")]


def check_name(bucket: str) -> None:
    if not 3 <= len(bucket) <= 63 or not all(c.isalnum() or c in "-._" for c in bucket):
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.", 400)


async def list_buckets(req: S3Request) -> Response:
    call = req.swift("GET", None, None, params={"format": "json"})
    caller = await call.caller()
    if not caller.owner:
        raise S3Error("AccessDenied", "Access Denied.", 403)
    async with req.st.db.reader() as session:
        rows = await listing.walk(
            session,
            listing.Query(limit=constraints.ACCOUNT_LISTING_LIMIT),
            listing.containers_page(req.account),
        )
    found = [
        ("Bucket", [("Name", r.name), ("CreationDate", xml.iso(r.created_ts))])
        for r in rows
        if not isinstance(r, str) and not r.name.endswith(SEGMENTS)
    ]
    return xml.document("ListAllMyBucketsResult", [("Owner", OWNER), ("Buckets", found)])


async def create(req: S3Request) -> Response:
    check_name(req.bucket)
    await req.read(64 * 1024)  # CreateBucketConfiguration: one region here
    try:
        response = await containers.handle(req.swift("PUT", req.bucket, None))
    except errors.OvercastError as exc:
        raise translate(exc, missing="NoSuchBucket") from exc
    if response.status_code == 202:
        raise S3Error(
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
            409,
        )
    return Response(b"", headers={"Location": f"/{req.bucket}"})


async def head(req: S3Request) -> Response:
    try:
        await containers.handle(req.swift("HEAD", req.bucket, None))
    except errors.OvercastError as exc:
        raise translate(exc, missing="NoSuchBucket") from exc
    return Response(b"", headers={"x-amz-bucket-region": "us-east-1"})


async def delete(req: S3Request) -> Response:
    try:
        await containers.handle(req.swift("DELETE", req.bucket, None))
    except errors.OvercastError as exc:
        raise translate(exc, missing="NoSuchBucket", conflict="BucketNotEmpty") from exc
    try:
        await req.st.containers.delete(req.account, req.bucket + SEGMENTS)
    except errors.OvercastError:
        pass  # none, or uploads still in progress: left for their abort
    return Response(b"", status_code=204)


async def bucket_id(req: S3Request) -> int:
    """The bucket's container id, once the caller is known to be allowed to list it."""
    try:
        info = await req.st.containers.info(req.account, req.bucket)
        if info is None:
            raise errors.NotFound()
        await containers.handle(req.swift("HEAD", req.bucket, None))  # the caller may list it
    except errors.OvercastError as exc:
        raise translate(exc, missing="NoSuchBucket") from exc
    return info.id


async def list_objects(req: S3Request) -> Response:
    cid = await bucket_id(req)
    p = req.params
    v2 = p.get("list-type") == "2"
    try:
        max_keys = min(int(p.get("max-keys", MAX_KEYS)), MAX_KEYS)
    except ValueError:
        raise S3Error(
            "InvalidArgument", "Provided max-keys not an integer or within integer range", 400
        ) from None
    if max_keys < 0:
        raise S3Error(
            "InvalidArgument", "Argument maxKeys must be an integer between 0 and 2147483647", 400
        )
    if v2:
        token = p.get("continuation-token")
        try:
            marker = (
                base64.urlsafe_b64decode(token.encode()).decode()
                if token
                else p.get("start-after", "")
            )
        except ValueError:
            raise S3Error(
                "InvalidArgument", "The continuation token provided is incorrect", 400
            ) from None
    else:
        marker = p.get("marker", "")
    query = listing.Query(
        prefix=p.get("prefix", ""),
        delimiter=p.get("delimiter", ""),
        marker=marker,
        limit=max_keys + 1,
    )
    async with req.st.db.reader() as session:
        items = await listing.walk(session, query, listing.objects_page(cid))
    truncated = len(items) > max_keys
    items = items[:max_keys]
    contents = []
    prefixes = []
    for item in items:
        if isinstance(item, str):
            prefixes.append(("CommonPrefixes", [("Prefix", item)]))
            continue
        entry = [
            ("Key", item.name),
            ("LastModified", xml.iso(item.ts)),
            ("ETag", f'"{item.etag}"'),
            ("Size", item.size),
            ("StorageClass", "STANDARD"),
        ]
        if not v2 or p.get("fetch-owner") == "true":
            entry.append(("Owner", OWNER))
        contents.append(("Contents", entry))
    last = items[-1] if items else ""
    last_name = last if isinstance(last, str) else last.name
    body: list[xml.Node] = [("Name", req.bucket), ("Prefix", query.prefix)]
    if v2:
        body += [("KeyCount", len(items)), ("MaxKeys", max_keys)]
        if "continuation-token" in p:
            body.append(("ContinuationToken", p["continuation-token"]))
        if "start-after" in p:
            body.append(("StartAfter", p["start-after"]))
        if truncated:
            body.append(
                ("NextContinuationToken", base64.urlsafe_b64encode(last_name.encode()).decode())
            )
    else:
        body += [("Marker", marker), ("MaxKeys", max_keys)]
        if truncated and query.delimiter:
            body.append(("NextMarker", last_name))
    if query.delimiter:
        body.append(("Delimiter", query.delimiter))
    body.append(("IsTruncated", truncated))
    return xml.document("ListBucketResult", body + contents + prefixes)


async def location(req: S3Request) -> Response:
    await bucket_id(req)
    return xml.document("LocationConstraint", [])


async def versioning(req: S3Request) -> Response:
    await bucket_id(req)
    return xml.document("VersioningConfiguration", [])


async def delete_objects(req: S3Request) -> Response:
    await bucket_id(req)
    raw = await req.read(2 * 1024 * 1024)
    md5 = req.headers.get("content-md5")
    if md5 and base64.b64encode(hashlib.md5(raw).digest()).decode() != md5:
        raise S3Error(
            "BadDigest", "The Content-MD5 you specified did not match what we received.", 400
        )
    root = xml.parse(raw)
    quiet = (root.findtext("Quiet") or "").lower() == "true"
    keys = [o.findtext("Key") or "" for o in root.findall("Object")]
    if len(keys) > MAX_DELETE:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed.", 400)
    done: list[xml.Node] = []
    for key in keys:
        try:
            await objects.handle(
                req.swift("DELETE", req.bucket, key, params={"multipart-manifest": "delete"})
            )
        except errors.OvercastError as exc:
            if exc.status != 404:
                err = translate(exc)
                done.append(("Error", [("Key", key), ("Code", err.code), ("Message", err.message)]))
                continue
        if not quiet:
            done.append(("Deleted", [("Key", key)]))
    return xml.document("DeleteResult", done)
