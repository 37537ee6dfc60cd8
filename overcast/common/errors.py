"""The one error hierarchy of Overcast, free of any framework.

Domain code raises these; `common.http.faults` turns them into each service's OpenStack error
body. Foreign errors are mapped into these at the edge with `raise ... from exc`.
"""

from __future__ import annotations

from typing import ClassVar


class OvercastError(Exception):
    """Base of every error a service means to report to its caller."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, message: str | None = None, *, kind: str | None = None) -> None:
        self.message = message or self.title
        # The OpenStack error type a dialect names, when it names one (Neutron's
        # `NetworkNotFound`, `IpAddressAlreadyAllocated`); None lets the dialect choose.
        self.kind = kind
        super().__init__(self.message)


class BadRequest(OvercastError):
    status = 400
    title = "Bad Request"


class Unauthorized(OvercastError):
    status = 401
    title = "Unauthorized"


class Forbidden(OvercastError):
    status = 403
    title = "Forbidden"


class NotFound(OvercastError):
    status = 404
    title = "Not Found"


class MethodNotAllowed(OvercastError):
    status = 405
    title = "Method Not Allowed"


class NotAcceptable(OvercastError):
    status = 406
    title = "Not Acceptable"


class LengthRequired(OvercastError):
    status = 411
    title = "Length Required"


class PreconditionFailed(OvercastError):
    status = 412
    title = "Precondition Failed"


class Conflict(OvercastError):
    status = 409
    title = "Conflict"


class Gone(OvercastError):
    status = 410
    title = "Gone"


class PayloadTooLarge(OvercastError):
    status = 413
    title = "Request Entity Too Large"


class OverQuota(OvercastError):
    status = 413
    title = "Over Quota"


class UnsupportedMediaType(OvercastError):
    status = 415
    title = "Unsupported Media Type"


class RangeNotSatisfiable(OvercastError):
    status = 416
    title = "Requested Range Not Satisfiable"


class UnprocessableEntity(OvercastError):
    status = 422
    title = "Unprocessable Entity"


class TooManyRequests(OvercastError):
    status = 429
    title = "Too Many Requests"


class NotSupported(OvercastError):
    """An optional capability that this driver or deployment does not have."""

    status = 501
    title = "Not Implemented"


class ServiceUnavailable(OvercastError):
    status = 503
    title = "Service Unavailable"


class InsufficientStorage(OvercastError):
    """Too few devices took a write for it to be durable."""

    status = 507
    title = "Insufficient Storage"


class Timeout(OvercastError):
    """An RPC call or a remote service did not answer in time."""

    status = 504
    title = "Gateway Timeout"


class RemoteError(OvercastError):
    """An unexpected error raised on the far side of the bus."""

    status = 500
    title = "Internal Server Error"


def by_name(name: str) -> type[OvercastError]:
    """Find an error class by name, for errors that travel over the bus.

    Looked up at call time, so subclasses that services define are found too.
    """
    found = _collect(OvercastError).get(name)
    return found if found is not None else RemoteError


def _collect(cls: type[OvercastError]) -> dict[str, type[OvercastError]]:
    out = {cls.__name__: cls}
    for sub in cls.__subclasses__():
        out.update(_collect(sub))
    return out
