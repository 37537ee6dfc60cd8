"""OpenStack error bodies: the only module that writes them, one formatter per dialect.

Each service's app installs its dialect with `install(app, DIALECT)`; every error raised below
a route (Overcast's own, FastAPI's validation errors, unknown paths, unexpected exceptions)
becomes that service's error body with a 4xx/5xx status.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as exc_module
from starlette.exceptions import HTTPException
from starlette.responses import Response

from overcast.common import errors, log
from overcast.common.db import session

LOG = log.get(__name__)

# (status, title, message): the title is the error's `kind` when it has one (see errors.py).
Render = Callable[[int, str, str], Response]


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def keystone(status: int, title: str, message: str) -> Response:
    """Keystone: {"error": {"code", "title", "message"}}."""
    return _json(status, {"error": {"code": status, "title": title, "message": message}})


_NOVA_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def nova(status: int, title: str, message: str) -> Response:
    """Nova: {"itemNotFound": {"code": 404, "message": ...}}."""
    key = _NOVA_KEYS.get(status, "computeFault")
    return _json(status, {key: {"code": status, "message": message}})


# Cinder's fault wrapper names the same statuses as Nova's, less 406 and 429.
_CINDER_KEYS = {k: v for k, v in _NOVA_KEYS.items() if k not in (406, 429)}


def cinder(status: int, title: str, message: str) -> Response:
    """Cinder: {"badRequest": {"code": 400, "message": ...}}; other statuses `computeFault`,
    as Cinder's fault wrapper (inherited from Nova's) names them."""
    key = _CINDER_KEYS.get(status, "computeFault")
    return _json(status, {key: {"code": status, "message": message}})


def glance(status: int, title: str, message: str) -> Response:
    """Glance answers errors as webob does: a small HTML page with the status and message."""
    text = html.escape(message)
    body = (
        f"<html>\n <head>\n  <title>{status} {title}</title>\n </head>\n <body>\n"
        f"  <h1>{status} {title}</h1>\n  {text}<br /><br />\n\n\n\n </body>\n</html>"
    )
    return Response(body, status_code=status, media_type="text/html")


# What Swift's proxy says when an error carries no message of its own.
_SWIFT_EXPLAIN = {
    401: "This server could not verify that you are authorized to access the resource.",
    403: "Access was denied to this resource.",
    404: "The resource could not be found.",
    405: "The method is not allowed for this resource.",
    409: "There was a conflict when trying to complete your request.",
    411: "Length Required.",
    412: "A precondition for this request was not met.",
    413: "The body of your request was too large for this server.",
    416: "The Range requested is not available.",
    422: "Unable to process the contained instructions.",
    500: "The server has either erred or is incapable of performing the requested operation.",
    503: "The server is currently unavailable. Please try again at a later time.",
    507: "There was not enough storage space to complete the request.",
}


def swift(status: int, title: str, message: str) -> Response:
    """Swift answers plain text: its own message when it has one, otherwise swob's small HTML
    page of the status and a sentence (which clients show as they get it)."""
    if message and message != title:
        return Response(message, status_code=status, media_type="text/plain")
    explain = _SWIFT_EXPLAIN.get(status, "")
    body = f"<html><h1>{title}</h1><p>{explain}</p></html>"
    return Response(body, status_code=status, media_type="text/html")


_NEUTRON_TYPES = {
    400: "HTTPBadRequest",
    401: "HTTPUnauthorized",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    409: "HTTPConflict",
    412: "HTTPPreconditionFailed",
    413: "HTTPRequestEntityTooLarge",
    415: "HTTPUnsupportedMediaType",
    501: "HTTPNotImplemented",
    503: "HTTPServiceUnavailable",
}


def neutron(status: int, title: str, message: str) -> Response:
    """Neutron: {"NeutronError": {"type", "message", "detail"}}; the type is the error's kind
    (`NetworkNotFound`) or, for errors that have none, webob's name for the status."""
    kind = title if title.isidentifier() else _NEUTRON_TYPES.get(status, "HTTPInternalServerError")
    return _json(status, {"NeutronError": {"type": kind, "message": message, "detail": ""}})


def validation_message(errs: Sequence[Any]) -> str:
    """Turn pydantic's error list into one sentence a person can act on."""
    parts = []
    for err in errs:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc)
        kind = err.get("type", "")
        if kind == "json_invalid":
            return "Malformed request body: the body is not valid JSON."
        msg = err.get("msg", "invalid value")
        parts.append(f"Invalid input for field '{field}': {msg}" if field else msg)
    return "; ".join(parts) or "Invalid request."


def render_error(render: Render, exc: BaseException) -> Response:
    if isinstance(exc, errors.OvercastError):
        return render(exc.status, exc.kind or exc.title, exc.message)
    if isinstance(exc, RequestValidationError):
        return render(400, "Bad Request", validation_message(exc.errors()))
    if isinstance(exc, HTTPException):
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404:
            detail = "The resource could not be found."
        response = render(exc.status_code, title, detail)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response
    if session.unreachable(exc):
        LOG.warning("database unavailable: %s", str(exc).splitlines()[0][:200] if str(exc) else exc)
        return render(503, "Service Unavailable", "The database is unavailable; try again later.")
    LOG.error("unexpected error", exc_info=exc)
    return render(500, "Internal Server Error", "An unexpected error prevented the request.")


def install(app: FastAPI, render: Render) -> None:
    """Make every error raised in `app` answer in the `render` dialect."""

    async def handler(_request: Request, exc: Exception) -> Response:
        return render_error(render, exc)

    app.add_exception_handler(errors.OvercastError, handler)
    app.add_exception_handler(RequestValidationError, handler)
    app.add_exception_handler(HTTPException, handler)
    # Handled here rather than by the catch-all, which answers but re-raises (a traceback
    # in the log for every request while the database is away).
    for unavailable in (exc_module.SQLAlchemyError, ConnectionError, TimeoutError):
        app.add_exception_handler(unavailable, handler)
    app.add_exception_handler(Exception, handler)
    app.state.render_error = render
