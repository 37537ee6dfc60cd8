"""The S3 API's one route (`/object-store/s3/...`): locate the bucket and key, authenticate
the signature, pick the operation from the method, the depth and the sub-resource, and answer
S3's XML errors for everything that fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from overcast.common import errors, log
from overcast.object_store import state
from overcast.object_store.s3 import buckets, multipart, objects
from overcast.object_store.s3.errors import S3Error, render, translate
from overcast.object_store.s3.request import PREFIX, S3Request, authenticate, locate, params_of

LOG = log.get(__name__)
Op = Callable[[S3Request], Awaitable[Response]]


def choose(req: S3Request) -> Op:
    method, p = req.method, req.params
    if not req.bucket:
        if method in ("GET", "HEAD"):
            return buckets.list_buckets
        raise S3Error(
            "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
        )
    if not req.key:
        if method == "PUT":
            return buckets.create
        if method == "HEAD":
            return buckets.head
        if method == "DELETE":
            return buckets.delete
        if method == "POST" and "delete" in p:
            return buckets.delete_objects
        if method == "GET":
            if "location" in p:
                return buckets.location
            if "versioning" in p:
                return buckets.versioning
            if "uploads" in p:
                return multipart.list_uploads
            return buckets.list_objects
        raise S3Error(
            "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
        )
    if method == "PUT":
        return multipart.upload_part if "uploadId" in p else objects.put
    if method in ("GET", "HEAD"):
        return multipart.list_parts if "uploadId" in p and method == "GET" else objects.get
    if method == "DELETE":
        return multipart.abort if "uploadId" in p else objects.delete
    if method == "POST":
        if "uploads" in p:
            return multipart.create
        if "uploadId" in p:
            return multipart.complete
    raise S3Error(
        "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
    )


async def handle(request: Request) -> Response:
    st = state.get(request)
    request_id = request.scope.get("state", {}).get("request_id", "")
    resource = request.url.path
    try:
        bucket, key = locate(request, st.s3_domain)
        resource = f"/{bucket}/{key}" if key else f"/{bucket}"
        context, payload_hash = await authenticate(request, st)
        req = S3Request(
            request=request,
            st=st,
            method=request.method,
            bucket=bucket,
            key=key,
            params=params_of(request),
            headers={k.lower(): v for k, v in request.headers.items()},
            context=context,
            payload_hash=payload_hash,
            request_id=request_id,
        )
        if context is None:
            raise S3Error("AccessDenied", "Access Denied.", 403)
        response = await choose(req)(req)
    except S3Error as err:
        return render(err, resource, request_id)
    except errors.OvercastError as exc:
        return render(translate(exc), resource, request_id)
    except UnicodeDecodeError:
        return render(
            S3Error("InvalidURI", "Couldn't parse the specified URI.", 400), resource, request_id
        )
    response.headers["x-amz-request-id"] = request_id
    return response


def install(app: FastAPI) -> None:
    methods = ["GET", "HEAD", "PUT", "POST", "DELETE"]
    app.add_route(PREFIX, handle, methods=methods, include_in_schema=False)
    app.add_route(PREFIX + "/{rest:path}", handle, methods=methods, include_in_schema=False)
