"""How a trace crosses processes: signed HTTP headers and a field of the bus envelope.

Over REST, as osprofiler does: `X-Trace-Info` (base64 of `{"base_id", "parent_id"}`) and
`X-Trace-HMAC` (HMAC-SHA256 of it). A request whose signature checks with one of the keys
continues that trace; any other header is ignored, so a client cannot inject spans into a
trace unless an operator gave it a key (`settings.trace.hmac_keys`). Units sign with the
deployment's own key, which the recorder reads from the database every unit shares.
Over the bus the envelope carries `{"base_id", "parent_id"}` unsigned (the bus is trusted).
Called by the HTTP middleware, the service clients and the bus transports.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from overcast.common.trace import spans

INFO = "X-Trace-Info"
SIGNATURE = "X-Trace-HMAC"
_KEYS: list[bytes] = []  # the first signs; any verifies


def set_keys(keys: list[str]) -> None:
    _KEYS[:] = [k.encode() for k in keys if k]


def _sign(data: bytes, key: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def sign(base_id: str, parent_id: str, key: str | None = None) -> dict[str, str]:
    """The two headers naming (base_id, parent_id), signed with `key` or this unit's key."""
    secret = key.encode() if key else (_KEYS[0] if _KEYS else b"")
    info = base64.urlsafe_b64encode(
        json.dumps({"base_id": base_id, "parent_id": parent_id}).encode()
    )
    return {INFO: info.decode(), SIGNATURE: _sign(info, secret)}


def outgoing() -> dict[str, str]:
    """Headers for a REST call made now: the current span, if its trace is recorded."""
    found = spans.current()
    if found is None or not found.trace.sampled or not _KEYS:
        return {}
    return sign(found.trace.trace_id, found.span_id)


def incoming(info: str, signature: str) -> tuple[str, str] | None:
    """(base_id, parent_id) from the headers, if the signature is good; else None."""
    if not _KEYS or not info or not signature:
        return None
    raw = info.encode()
    if not any(hmac.compare_digest(_sign(raw, key), signature) for key in _KEYS):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw))
    except (ValueError, binascii.Error):
        return None
    return _ids(data)


def _ids(data: Any) -> tuple[str, str] | None:
    if not isinstance(data, dict):
        return None
    base, parent = data.get("base_id"), data.get("parent_id")
    if not isinstance(base, str) or not isinstance(parent, str):
        return None
    if not (0 < len(base) <= 32 and 0 < len(parent) <= 16 and _hex(base) and _hex(parent)):
        return None
    return base, parent


def _hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


def bus_field() -> dict[str, str] | None:
    """What a bus message sent now carries: the current span, if its trace is recorded."""
    found = spans.current()
    if found is None or not found.trace.sampled:
        return None
    return {"base_id": found.trace.trace_id, "parent_id": found.span_id}


def handled(field: Any, name: str, service: str, **info: Any) -> spans.Span | spans.Detached:
    """The span of a bus message handled here, continuing the sender's trace; without one,
    the handler runs outside any trace (as it would in another process)."""
    ids = _ids(field) if field is not None else None
    if ids is None:
        return spans.Detached()
    return spans.root(name, "rpc", service, spans.Trace(ids[0], sampled=True), ids[1], **info)
