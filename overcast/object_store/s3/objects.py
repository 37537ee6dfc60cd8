"""S3 object operations on Swift objects: PutObject, CopyObject, GetObject, HeadObject and
DeleteObject; request headers become Swift's (`x-amz-meta-*` → `X-Object-Meta-*`) and the
answers S3's (quoted ETags, `x-amz-meta-*`)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from starlette.responses import Response

from overcast.common import errors
from overcast.object_store.api import objects
from overcast.object_store.s3 import xml
from overcast.object_store.s3.errors import S3Error, translate
from overcast.object_store.s3.request import S3Request

PASSED = (
    "content-type",
    "content-disposition",
    "content-encoding",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
)


def swift_headers(req: S3Request) -> dict[str, str]:
    out = {k: v for k, v in req.headers.items() if k in PASSED}
    if out.get("content-encoding", "").startswith("aws-chunked"):
        rest = [e for e in out["content-encoding"].split(",") if e.strip() != "aws-chunked"]
        if rest:
            out["content-encoding"] = ",".join(rest)
        else:
            out.pop("content-encoding")
    for key, value in req.headers.items():
        if key.startswith("x-amz-meta-"):
            out["x-object-meta-" + key[len("x-amz-meta-") :]] = value
    length = req.headers.get("x-amz-decoded-content-length") or req.headers.get("content-length")
    if length is not None:
        out["content-length"] = length
    elif "transfer-encoding" in req.headers:
        out["transfer-encoding"] = req.headers["transfer-encoding"]
    md5 = req.headers.get("content-md5")
    if md5:
        try:
            out["etag"] = base64.b64decode(md5, validate=True).hex()
        except (binascii.Error, ValueError):
            raise S3Error(
                "InvalidDigest", "The Content-MD5 you specified was invalid.", 400
            ) from None
    return out


def s3_headers(response: Response) -> Response:
    """A Swift object answer with S3's header names."""
    headers = response.headers
    etag = headers.get("etag")
    if etag is not None:
        del headers["etag"]
        headers["ETag"] = etag if etag.startswith('"') else f'"{etag}"'
    for key in list(headers.keys()):
        if key.startswith("x-object-meta-"):
            value = headers[key]
            del headers[key]
            headers["x-amz-meta-" + key[len("x-object-meta-") :]] = value
        elif key in ("x-timestamp", "x-trans-id", "x-static-large-object", "x-object-manifest"):
            del headers[key]
    return response


async def put(req: S3Request) -> Response:
    if "x-amz-copy-source" in req.headers:
        return await copy(req)
    headers = swift_headers(req)
    try:
        response = await objects.handle(
            req.swift("PUT", req.bucket, req.key, headers, body=req.body())
        )
    except errors.OvercastError as exc:
        if exc.status == 404:
            raise translate(exc, missing="NoSuchBucket") from exc
        raise translate(exc) from exc
    return Response(b"", headers={"ETag": f'"{response.headers["etag"]}"'})


def copy_source(req: S3Request) -> str:
    source = unquote(req.headers["x-amz-copy-source"].split("?versionId=")[0]).lstrip("/")
    if "/" not in source:
        raise S3Error(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            400,
        )
    return source


async def copy(req: S3Request) -> Response:
    source = copy_source(req)
    headers = swift_headers(req)
    headers["x-copy-from"] = source
    headers["content-length"] = "0"
    if req.headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE":
        headers["x-fresh-metadata"] = "true"
    elif source == f"{req.bucket}/{req.key}":
        raise S3Error(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata.",
            400,
        )
    try:
        response = await objects.handle(req.swift("PUT", req.bucket, req.key, headers))
    except errors.OvercastError as exc:
        raise translate(exc) from exc
    return xml.document(
        "CopyObjectResult",
        [
            ("LastModified", xml.iso(response.headers["x-timestamp"])),
            ("ETag", f'"{response.headers["etag"]}"'),
        ],
    )


async def get(req: S3Request) -> Response:
    headers = {k: v for k, v in req.headers.items() if k in PASSED}
    try:
        response = await objects.handle(req.swift(req.method, req.bucket, req.key, headers))
    except errors.OvercastError as exc:
        if exc.status == 304:
            raise
        raise translate(exc) from exc
    if response.status_code == 304:
        return Response(b"", status_code=304, headers={"ETag": response.headers.get("etag", "")})
    if response.status_code == 412:
        raise S3Error(
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            412,
        )
    return s3_headers(response)


async def delete(req: S3Request) -> Response:
    try:
        await objects.handle(
            req.swift("DELETE", req.bucket, req.key, params={"multipart-manifest": "delete"})
        )
    except errors.OvercastError as exc:
        if exc.status != 404:
            raise translate(exc) from exc
        if await req.st.containers.info(req.account, req.bucket) is None:
            raise translate(exc, missing="NoSuchBucket") from exc
    return Response(b"", status_code=204)
