"""The versioned envelope every message on a networked bus travels in, and how errors travel.

A request is `{"v": "1.0", "method": ..., "ctx": {...}, "args": {...}}`, with `"trace":
{"base_id", "parent_id"}` when the sender's trace is recorded (common/trace); a reply is
`{"v": "1.0", "result": ...}` or `{"v": "1.0", "error": {"type": ..., "message": ...}}`.
A peer of the same major version is understood whatever its minor version (fields it does not
know are ignored); another major version is refused with `Refused`, which the transport logs
and answers, never letting it take the process down. Used by `amqp.AmqpBus`.
"""

from __future__ import annotations

import json
from typing import Any

from overcast.common import errors
from overcast.common.trace import propagate

MAJOR, MINOR = 1, 0
VERSION = f"{MAJOR}.{MINOR}"


class Refused(errors.BadRequest):
    """A message this process cannot read: garbled, or from an incompatible version."""


def request(method: str, ctx: dict[str, Any], args: dict[str, Any]) -> bytes:
    body = {"v": VERSION, "method": method, "ctx": ctx, "args": args}
    trace = propagate.bus_field()
    if trace is not None:
        body["trace"] = trace
    return dumps(body)


def result(value: Any) -> bytes:
    return dumps({"v": VERSION, "result": value})


def error(exc: BaseException) -> bytes:
    """A reply carrying `exc`."""
    return dumps({"v": VERSION, "error": describe(exc)})


def describe(exc: BaseException) -> dict[str, str]:
    """How `exc` travels: errors outside Overcast's hierarchy travel as RemoteError."""
    if isinstance(exc, errors.OvercastError):
        return {"type": type(exc).__name__, "message": exc.message}
    return {"type": "RemoteError", "message": f"{type(exc).__name__}: {exc}"}


def rebuild(failure: dict[str, Any]) -> errors.OvercastError:
    """The error a travelled description stands for (its class found by name)."""
    cls = errors.by_name(str(failure.get("type")))
    message = str(failure.get("message") or cls.title)
    try:
        return cls(message)
    except TypeError:  # a subclass with a constructor of its own
        return errors.RemoteError(message)


def dumps(body: dict[str, Any]) -> bytes:
    try:
        return json.dumps(body, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise errors.RemoteError(f"bus message is not JSON-serialisable: {exc}") from exc


def loads(raw: bytes) -> dict[str, Any]:
    """Open an envelope; raise `Refused` saying why it cannot be read."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(f"not a JSON message: {exc}") from exc
    if not isinstance(body, dict):
        raise Refused("a message must be a JSON object")
    version = body.get("v")
    if not isinstance(version, str):
        raise Refused("a message without a version")
    major, _, _minor = version.partition(".")
    if major != str(MAJOR):
        raise Refused(f"message version {version} is not compatible with {VERSION}")
    return body


def open_request(raw: bytes) -> tuple[str, dict[str, Any], dict[str, Any], Any]:
    """(method, ctx, args, trace) of a request envelope; `Refused` if it is not one."""
    body = loads(raw)
    method, ctx, args = body.get("method"), body.get("ctx"), body.get("args")
    if not isinstance(method, str) or not isinstance(ctx, dict) or not isinstance(args, dict):
        raise Refused("a request needs a method name, a context object and an args object")
    return method, ctx, args, body.get("trace")


def open_reply(raw: bytes) -> Any:
    """The result a reply carries, or raise the error it carries."""
    body = loads(raw)
    failure = body.get("error")
    if isinstance(failure, dict):
        raise rebuild(failure)
    return body.get("result")
