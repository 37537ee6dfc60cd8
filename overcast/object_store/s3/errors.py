"""S3's error answers: an XML `<Error>` with a code S3 clients know, and the mapping from
Overcast's errors (raised by the Swift operations underneath) to those codes."""

from __future__ import annotations

from xml.sax.saxutils import escape

from starlette.responses import Response

from overcast.common import errors


class S3Error(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


_BY_STATUS = {
    400: ("InvalidArgument", "Invalid Argument"),
    401: ("AccessDenied", "Access Denied."),
    403: ("AccessDenied", "Access Denied."),
    405: ("MethodNotAllowed", "The specified method is not allowed against this resource."),
    409: ("OperationAborted", "A conflicting operation is in progress."),
    411: ("MissingContentLength", "You must provide the Content-Length HTTP header."),
    412: ("PreconditionFailed", "At least one of the preconditions you specified did not hold."),
    413: ("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."),
    416: ("InvalidRange", "The requested range is not satisfiable"),
    422: ("BadDigest", "The Content-MD5 you specified did not match what we received."),
    499: (
        "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the timeout period.",
    ),
    503: ("ServiceUnavailable", "Please reduce your request rate."),
    507: ("ServiceUnavailable", "Please reduce your request rate."),
}


def translate(
    exc: errors.OvercastError, *, missing: str = "NoSuchKey", conflict: str | None = None
) -> S3Error:
    """An Overcast error as S3 says it; `missing` names what a 404 means here."""
    if exc.status == 404:
        what = (
            "key" if missing == "NoSuchKey" else "bucket" if missing == "NoSuchBucket" else "upload"
        )
        return S3Error(missing, f"The specified {what} does not exist.", 404)
    if exc.status == 409 and conflict:
        return S3Error(conflict, "The bucket you tried to delete is not empty.", 409)
    code, message = _BY_STATUS.get(
        exc.status, ("InternalError", "We encountered an internal error. Please try again.")
    )
    status = 403 if exc.status == 401 else exc.status if exc.status in _BY_STATUS else 500
    if status == 507:
        status = 503
    if exc.status == 400 and exc.message and exc.message != exc.title:
        message = exc.message
    return S3Error(code, message, status)


def render(err: S3Error, resource: str, request_id: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{err.code}</Code><Message>{escape(err.message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>"
    )
    return Response(
        body,
        status_code=err.status,
        media_type="application/xml",
        headers={"x-amz-request-id": request_id},
    )
