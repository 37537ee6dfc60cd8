"""AWS signatures as S3 clients make them: Version 4 (the `Authorization` header or a
presigned query) and Version 2 (`AWS access:signature`, or the `AWSAccessKeyId`/`Signature`/
`Expires` query that boto3 presigns with by default). Here the string to sign is rebuilt; the
secret is never needed: identity computes the expected signature (see clients/identity.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from overcast.object_store.s3.errors import S3Error

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
SKEW = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Signed:
    access: str
    string_to_sign: str
    signature: str
    payload_hash: str  # the declared x-amz-content-sha256 (or UNSIGNED-PAYLOAD)


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_query(raw: str, drop: str | None = None) -> str:
    pairs = [(k, v) for k, v in parse_qsl(raw, keep_blank_values=True) if k != drop]
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def _parse_auth(header: str) -> dict[str, str]:
    if not header.startswith(ALGORITHM + " "):
        raise S3Error("InvalidRequest", "Only AWS Signature Version 4 is supported.", 400)
    fields: dict[str, str] = {}
    for part in header[len(ALGORITHM) + 1 :].split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    if not {"Credential", "SignedHeaders", "Signature"} <= set(fields):
        raise S3Error("AuthorizationHeaderMalformed", "The authorization header is malformed.", 400)
    return fields


def _when(stamp: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date.", 403) from None


# Query parameters that are part of what a V2 signature covers.
V2_SUBRESOURCES = {
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
}


def _v2(
    method: str, raw_path: str, params: dict[str, str], headers: dict[str, str], date: str
) -> str:
    amz = sorted((k, " ".join(v.split())) for k, v in headers.items() if k.startswith("x-amz-"))
    sub = sorted((k, v) for k, v in params.items() if k in V2_SUBRESOURCES)
    resource = raw_path
    if sub:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in sub)
    lines = [method, headers.get("content-md5", ""), headers.get("content-type", ""), date]
    return "\n".join(lines) + "\n" + "".join(f"{k}:{v}\n" for k, v in amz) + resource


def parse_v2(
    method: str, raw_path: str, params: dict[str, str], headers: dict[str, str], now: dt.datetime
) -> Signed | None:
    """A Version 2 signature: the header form or the presigned query form."""
    auth = headers.get("authorization", "")
    if auth.startswith("AWS "):
        access, _, signature = auth[4:].partition(":")
        date = "" if "x-amz-date" in headers else headers.get("date", "")
        return Signed(access, _v2(method, raw_path, params, headers, date), signature, UNSIGNED)
    if "AWSAccessKeyId" in params and "Signature" in params:
        try:
            expires = int(params.get("Expires", "0"))
        except ValueError:
            raise S3Error(
                "AccessDenied", "Query-string authentication requires Expires.", 403
            ) from None
        if now.timestamp() > expires:
            raise S3Error("AccessDenied", "Request has expired", 403)
        string = _v2(method, raw_path, params, headers, str(expires))
        return Signed(params["AWSAccessKeyId"], string, params["Signature"], UNSIGNED)
    return None


def parse(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    now: dt.datetime,
    v2_path: str,
) -> Signed | None:
    """The signed parts of a request; None for an anonymous one. Version 4 signs the path as
    sent; Version 2 signs `v2_path`, `/<bucket>/<key>` whatever the endpoint's own path."""
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    v2 = parse_v2(method, v2_path, params, headers, now)
    if v2 is not None:
        return v2
    if "authorization" in headers:
        auth = _parse_auth(headers["authorization"])
        stamp = headers.get("x-amz-date") or ""
        when = _when(stamp)
        if abs(now - when) > SKEW:
            raise S3Error(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                403,
            )
        payload = headers.get("x-amz-content-sha256", "")
        if not payload:
            raise S3Error(
                "InvalidRequest",
                "Missing required header for this request: x-amz-content-sha256",
                400,
            )
        query = canonical_query(raw_query)
        credential, signed_headers, signature = (
            auth["Credential"],
            auth["SignedHeaders"],
            auth["Signature"],
        )
    elif params.get("X-Amz-Algorithm") == ALGORITHM:
        stamp = params.get("X-Amz-Date", "")
        when = _when(stamp)
        try:
            expires = int(params.get("X-Amz-Expires", "0"))
        except ValueError:
            raise S3Error(
                "AuthorizationQueryParametersError", "X-Amz-Expires should be a number", 400
            ) from None
        if now > when + dt.timedelta(seconds=expires) or now < when - SKEW:
            raise S3Error("AccessDenied", "Request has expired", 403)
        payload = UNSIGNED
        query = canonical_query(raw_query, drop="X-Amz-Signature")
        credential = params.get("X-Amz-Credential", "")
        signed_headers = params.get("X-Amz-SignedHeaders", "")
        signature = params.get("X-Amz-Signature", "")
    else:
        return None
    access, _, scope = credential.partition("/")
    if not access or scope.count("/") != 3 or not scope.startswith(stamp[:8]):
        raise S3Error("AuthorizationHeaderMalformed", "The credential scope is malformed.", 400)
    lines = []
    for name in signed_headers.split(";"):
        if name not in headers:
            raise S3Error("SignatureDoesNotMatch", "A signed header is missing.", 403)
        lines.append(f"{name}:{' '.join(headers[name].split())}\n")
    canonical = "\n".join([method, raw_path, query, "".join(lines), signed_headers, payload])
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return Signed(access, f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}", signature, payload)
