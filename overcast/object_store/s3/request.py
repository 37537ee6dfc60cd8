"""One S3 request: its bucket and key (path-style, or virtual-hosted under `s3_domain`), its
caller (from the SigV4 signature, checked by identity), and the Swift call it becomes."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request

from overcast.clients.identity import IdentityClient
from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.object_store import access
from overcast.object_store.api.call import Call
from overcast.object_store.s3 import sigv4
from overcast.object_store.s3.errors import S3Error
from overcast.object_store.state import ObjectStoreState

PREFIX = "/s3"


@dataclass
class S3Request:
    request: Request
    st: ObjectStoreState
    method: str
    bucket: str
    key: str
    params: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    context: RequestContext | None
    payload_hash: str
    request_id: str

    @property
    def account(self) -> str:
        if self.context is None or not self.context.project_id:
            raise S3Error("AccessDenied", "Access Denied.", 403)
        return access.PREFIX + self.context.project_id

    @property
    def resource(self) -> str:
        return f"/{self.bucket}/{self.key}" if self.key else f"/{self.bucket}"

    def swift(
        self,
        method: str,
        container: str | None,
        obj: str | None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        body: AsyncIterator[bytes] | None = None,
    ) -> Call:
        """The Swift call this request (or a part of it) becomes."""
        raw = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        return Call(
            request=self.request,
            st=self.st,
            method=method,
            account=self.account,
            container=container,
            obj=obj,
            headers=Headers(raw=raw),
            params=params or {},
            context=self.context,
            body=body,
        )

    async def body(self) -> AsyncIterator[bytes]:
        """The payload, decoded from aws-chunked when so sent, checked against the declared
        SHA-256 at its end (an error then means nothing is stored)."""
        digest = hashlib.sha256() if len(self.payload_hash) == 64 else None
        stream: AsyncIterator[bytes] = self.request.stream()
        if "aws-chunked" in self.headers.get(
            "content-encoding", ""
        ) or self.payload_hash.startswith("STREAMING-"):
            stream = _dechunk(stream)
        try:
            async for chunk in stream:
                if digest is not None:
                    digest.update(chunk)
                yield chunk
        except ClientDisconnect:
            raise S3Error(
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
                400,
            ) from None
        if digest is not None and digest.hexdigest() != self.payload_hash:
            raise S3Error(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
            )

    async def read(self, limit: int) -> bytes:
        out = bytearray()
        async for chunk in self.body():
            out += chunk
            if len(out) > limit:
                raise S3Error("MaxMessageLengthExceeded", "Your request was too big.", 400)
        return bytes(out)


async def _dechunk(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`<hex size>[;chunk-signature=...]\\r\\n<data>\\r\\n` ... `0\\r\\n<trailers>\\r\\n\\r\\n`."""
    buffer = bytearray()
    source = stream.__aiter__()

    async def fill(n: int) -> bool:
        while len(buffer) < n:
            try:
                buffer.extend(await source.__anext__())
            except StopAsyncIteration:
                return False
        return True

    while True:
        while b"\r\n" not in buffer:
            if not await fill(len(buffer) + 1):
                raise S3Error("IncompleteBody", "The aws-chunked body ended early.", 400)
        line, _, rest = bytes(buffer).partition(b"\r\n")
        buffer[:] = rest
        try:
            size = int(line.split(b";")[0], 16)
        except ValueError:
            raise S3Error("InvalidRequest", "Malformed aws-chunked body.", 400) from None
        if size == 0:
            return  # trailers (checksums) follow; they are not needed
        if not await fill(size + 2):
            raise S3Error("IncompleteBody", "The aws-chunked body ended early.", 400)
        yield bytes(buffer[:size])
        del buffer[: size + 2]


def locate(request: Request, s3_domain: str) -> tuple[str, str]:
    """(bucket, key) from a path-style path under /s3/, or a virtual-hosted Host."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    root = (request.scope.get("root_path", "") + PREFIX).encode()
    path = (
        unquote(raw[len(root) :].decode("latin-1"), encoding="utf-8", errors="strict")
        if raw.startswith(root)
        else ""
    )
    host = request.headers.get("host", "").split(":")[0]
    if s3_domain and host.endswith("." + s3_domain):
        return host[: -len(s3_domain) - 1], path.lstrip("/")
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


def _v2_path(request: Request, s3_domain: str) -> str:
    """`/<bucket>/<key>` as sent (still percent-encoded), what Version 2 signs."""
    raw = (request.scope.get("raw_path") or request.scope["path"].encode()).decode("latin-1")
    root = request.scope.get("root_path", "") + PREFIX
    rest = raw[len(root) :] if raw.startswith(root) else raw
    host = request.headers.get("host", "").split(":")[0]
    if s3_domain and host.endswith("." + s3_domain):
        return f"/{host[: -len(s3_domain) - 1]}{rest or '/'}"
    return rest or "/"


async def authenticate(request: Request, st: ObjectStoreState) -> tuple[RequestContext | None, str]:
    """The caller's context (None when unsigned) and the declared payload hash."""
    scope = request.scope
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    headers = {k.lower(): v for k, v in request.headers.items()}
    signed = sigv4.parse(
        request.method,
        raw_path,
        scope.get("query_string", b"").decode("latin-1"),
        headers,
        dt.datetime.now(dt.UTC),
        _v2_path(request, st.s3_domain),
    )
    if signed is None:
        return None, sigv4.UNSIGNED
    client = IdentityClient(st.identity_url, None)
    try:
        body = await client.s3_token(signed.access, signed.string_to_sign, signed.signature)
    except errors.Unauthorized:
        raise S3Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            403,
        ) from None
    except errors.OvercastError:
        raise S3Error(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
        ) from None
    token = body["token"]
    user, project = token["user"], token.get("project") or {}
    ctx = RequestContext(
        user_id=user["id"],
        user_name=user.get("name"),
        user_domain_id=(user.get("domain") or {}).get("id"),
        project_id=project.get("id"),
        project_name=project.get("name"),
        project_domain_id=(project.get("domain") or {}).get("id"),
        roles=tuple(r["name"] for r in token.get("roles", [])),
    )
    return ctx, signed.payload_hash


def params_of(request: Request) -> dict[str, str]:
    return dict(
        parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    )
