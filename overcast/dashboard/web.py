"""The page machinery every page module uses: `page` wraps a handler with the session (or a
redirect to the login page that keeps `next`), the CSRF check on every unsafe request, and the
mapping of the APIs' errors to pages; `render` fills a template (autoescaped);
`SecurityHeaders` puts the Content-Security-Policy and framing refusal on every response.
"""

from __future__ import annotations

import hmac
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overcast.common import errors
from overcast.common.service import Runtime
from overcast.dashboard import sessions
from overcast.dashboard.cloud import Cloud

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.ChainableUndefined,
)
# The side menu: (group, [(label, path)]); the Admin group shows to admins only.
NAV = [
    (
        "Compute",
        [
            ("Overview", "/project/"),
            ("Instances", "/project/instances"),
            ("Launch instance", "/project/launch"),
            ("Images", "/project/images"),
            ("Key pairs", "/project/keypairs"),
            ("Server groups", "/project/server-groups"),
        ],
    ),
    (
        "Volumes",
        [
            ("Volumes", "/project/volumes"),
            ("Snapshots", "/project/volume-snapshots"),
            ("Backups", "/project/volume-backups"),
        ],
    ),
    (
        "Network",
        [
            ("Topology", "/project/topology"),
            ("Networks", "/project/networks"),
            ("Subnets", "/project/subnets"),
            ("Ports", "/project/ports"),
            ("Routers", "/project/routers"),
            ("Floating IPs", "/project/floating-ips"),
            ("Security groups", "/project/security-groups"),
        ],
    ),
    ("Object store", [("Containers", "/project/containers")]),
    ("Access", [("API access", "/project/api-access")]),
    (
        "Admin",
        [
            ("Projects", "/admin/projects"),
            ("Users", "/admin/users"),
            ("Groups", "/admin/groups"),
            ("Roles", "/admin/roles"),
            ("Flavors", "/admin/flavors"),
            ("Hypervisors", "/admin/hypervisors"),
            ("Compute services", "/admin/compute-services"),
            ("Aggregates", "/admin/aggregates"),
            ("Zones", "/admin/zones"),
            ("All instances", "/admin/instances"),
            ("Quotas", "/admin/quotas"),
            ("System information", "/admin/system"),
        ],
    ),
]
TEMPLATES.globals["nav"] = NAV
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_SAFE = ("GET", "HEAD")


@dataclass
class Page:
    """One request to a signed-in page: its session and the user's cloud."""

    request: Request
    session: sessions.Session
    cloud: Cloud
    runtime: Runtime
    form: FormData | None = None

    @property
    def base(self) -> str:
        return str(self.request.scope.get("root_path", ""))

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        if self.form is None:
            return []
        return [v for v in self.form.getlist(name) if isinstance(v, str) and v]

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(self.request, template, status, session=self.session, **values)

    def redirect(self, path: str, notice: str = "", error: str = "") -> RedirectResponse:
        """303 to `path` (below the dashboard), with a notice or an error to show there."""
        path, _, anchor = path.partition("#")
        said = {k: v for k, v in (("notice", notice), ("error", error)) if v}
        query = "?" + urllib.parse.urlencode(said) if said else ""
        return RedirectResponse(
            self.base + path + query + ("#" + anchor if anchor else ""), status_code=303
        )


Handler = Callable[[Page], Awaitable[Response]]
R = TypeVar("R", bound=Response)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    base = str(request.scope.get("root_path", ""))
    body = TEMPLATES.get_template(template).render(
        base=base,
        path=request.url.path,
        notice=request.query_params.get("notice", ""),
        flash_error=request.query_params.get("error", ""),
        **values,
    )
    return counted(request, HTMLResponse(body, status_code=status))


def counted(request: Request, response: R) -> R:
    """`response` with the number of API calls (and REST requests in them) the page made."""
    cloud = getattr(request.state, "cloud", None)
    if cloud is not None:
        response.headers["X-Dashboard-Api-Calls"] = str(cloud.calls)
        response.headers["X-Dashboard-Api-Requests"] = str(cloud.requests)
    return response


def to_login(request: Request) -> RedirectResponse:
    """The login page, keeping where the user was (for GETs; a form goes back to its page)."""
    here = request.url.path
    if request.url.query and request.method in _SAFE:
        here += "?" + request.url.query
    base = str(request.scope.get("root_path", ""))
    target = base + "/auth/login?" + urllib.parse.urlencode({"next": here})
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(sessions.COOKIE, path=base or "/")
    return response


def message(exc: errors.OvercastError) -> str:
    """An API's error message as a person reads it (without the client's service prefix)."""
    text = str(exc)
    if "</" in text:  # an HTML error page (the image API's dialect): its words only
        text = " ".join(re.sub(r"<title>.*?</title>|<[^>]+>", " ", text).split())
    head, sep, rest = text.partition(": ")
    return rest if sep and head.replace("-", "").isalpha() and head.islower() else text


def page(handler: Handler, admin: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """A signed-in page: 303 to the login page without a live session, 403 for an unsafe
    request without the session's CSRF token, and the APIs' errors as error pages."""

    async def endpoint(request: Request) -> Response:
        runtime = runtime_of(request)
        session = await sessions.load(runtime.db, request.cookies.get(sessions.COOKIE, ""))
        if session is None:
            return to_login(request)
        form: FormData | None = None
        if request.method not in _SAFE:
            sent = request.headers.get("x-csrf-token", "")
            if request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")
            ):
                form = await request.form(max_part_size=16 << 20)
                value = form.get("csrf")
                sent = sent or (value if isinstance(value, str) else "")
            if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                return forbidden(request, "The form's CSRF token is missing or wrong.")
        cloud = Cloud(runtime.endpoint, session.token, session.project_id, runtime.in_process)
        request.state.cloud = cloud
        current = Page(request, session, cloud, runtime, form)
        if admin and not session.is_admin:
            return current.render("error.html", 403, message="This page is for administrators.")
        try:
            return await handler(current)
        except errors.Unauthorized:
            await sessions.drop(runtime.db, session.secret)
            return to_login(request)
        except errors.OvercastError as exc:
            status = exc.status if 400 <= exc.status < 600 else 500
            return current.render("error.html", status, message=message(exc))

    return endpoint


def forbidden(request: Request, message: str) -> HTMLResponse:
    return render(request, "error.html", 403, session=None, message=message)


class SecurityHeaders:
    """Plain ASGI: every response says it may not be framed, sniffed or cached, and what it
    may load (only this origin; no inline script or style)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"cache-control",) or static
                ]
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
