"""Temporary URLs, as Swift's tempurl middleware signs them: `temp_url_sig` is an HMAC
(SHA1, SHA256 or SHA512; hex, or `<algo>:<base64>`) of `METHOD\\nEXPIRES\\nPATH` (or
`prefix:PATH-PREFIX` with `temp_url_prefix`) under one of the account's or the container's
`Temp-URL-Key`s, and `temp_url_expires` (Unix seconds or ISO 8601) has not passed. A valid
one lets an anonymous caller GET, HEAD or PUT that one object. Called by the API before
authorisation; knows nothing of HTTP.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import time

from overcast.common import errors

ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
BY_HEX_LENGTH = {40: "sha1", 64: "sha256", 128: "sha512"}
METHODS = ("GET", "HEAD", "PUT")
KEYS = ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2")
CONTAINER_KEYS = ("x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2")


def expires_at(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        when = dt.datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise errors.Unauthorized("Invalid temp_url_expires") from None
    return int(when.timestamp())


def split_signature(sig: str) -> tuple[str, bytes]:
    if ":" in sig:
        algo, _, encoded = sig.partition(":")
        if algo not in ALGORITHMS:
            raise errors.Unauthorized("Unsupported temp_url_sig digest")
        try:
            padded = encoded + "=" * (-len(encoded) % 4)
            return algo, base64.urlsafe_b64decode(padded)
        except ValueError:
            raise errors.Unauthorized("Invalid temp_url_sig") from None
    by_length = BY_HEX_LENGTH.get(len(sig))
    if by_length is None:
        raise errors.Unauthorized("Invalid temp_url_sig")
    try:
        return by_length, bytes.fromhex(sig)
    except ValueError:
        raise errors.Unauthorized("Invalid temp_url_sig") from None


def valid(
    method: str,
    path: str,
    params: dict[str, str],
    keys: list[str],
    now: float | None = None,
    mount: str = "",
) -> bool:
    """Whether the query's signature opens `path` (`/v1/<account>/<container>/<object>`) for
    `method` under one of `keys`; HEAD is allowed by a GET, PUT or HEAD signature. The path
    signed is the one Swift sees or the one the client called, under the service's `mount`
    (`/object-store/v1/...`, the catalog URL's path)."""
    sig = params.get("temp_url_sig", "")
    raw_expires = params.get("temp_url_expires", "")
    if not sig or not raw_expires or not keys:
        return False
    expires = expires_at(raw_expires)
    if expires < (now or time.time()):
        return False
    algo, wanted = split_signature(sig)
    roots = ("", mount) if mount else ("",)
    prefix = params.get("temp_url_prefix")
    if prefix is not None:
        base = "/".join(path.split("/", 4)[:4]) + "/"
        if not path.startswith(base + prefix):
            return False
        signed_paths = [f"prefix:{root}{base}{prefix}" for root in roots]
    else:
        signed_paths = [root + path for root in roots]
    methods = METHODS if method == "HEAD" else (method,)
    for key in keys:
        for signed_method in methods:
            for signed in signed_paths:
                body = f"{signed_method}\n{params['temp_url_expires']}\n{signed}".encode()
                mac = hmac.new(key.encode(), body, ALGORITHMS[algo]).digest()
                if hmac.compare_digest(mac, wanted):
                    return True
    return False
