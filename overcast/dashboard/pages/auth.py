"""Login (Keystone password: domain, user, password), project switch and logout (every token
of the session revoked). The login form, having no session yet, carries a double-submit CSRF
token: a random value in a SameSite cookie that the form must repeat."""

from __future__ import annotations

import hmac
import secrets
import urllib.parse

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from overcast.common import errors
from overcast.dashboard import keystone, sessions, web

_LOGIN_CSRF = "overcast_dashboard_login"


def _next(request: Request, value: str | None) -> str:
    """Where to go after login: a path inside the dashboard only (no open redirect)."""
    base = str(request.scope.get("root_path", ""))
    target = value or ""
    parsed = urllib.parse.urlsplit(target)
    if parsed.scheme or parsed.netloc or not target.startswith(base + "/") or "\\" in target:
        return base + "/project/"
    return target


def _cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=str(request.scope.get("root_path", "")) or "/",
    )


def _login_page(request: Request, status: int = 200, error: str = "", **values: str) -> Response:
    token = secrets.token_urlsafe(32)
    response = web.render(
        request,
        "login.html",
        status,
        session=None,
        csrf=token,
        error=error,
        next=_next(request, request.query_params.get("next") or values.get("next")),
        domain=values.get("domain", "Default"),
        username=values.get("username", ""),
    )
    _cookie(request, response, _LOGIN_CSRF, token)
    return response


async def login_form(request: Request) -> Response:
    return _login_page(request)


async def login(request: Request) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("domain", "username", "password", "csrf", "next")}
    cookie = request.cookies.get(_LOGIN_CSRF, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), values["csrf"].encode()):
        return web.forbidden(request, "The form's CSRF token is missing or wrong.")
    runtime = web.runtime_of(request)
    identity = keystone.Keystone(runtime.endpoint("identity"))
    shown = {k: values[k] for k in ("domain", "username", "next")}
    try:
        issued = await identity.password(
            values["domain"] or "Default", values["username"], values["password"]
        )
        projects = await identity.projects(issued.token)
        if not projects:
            await identity.revoke(issued.token)
            return _login_page(request, 403, "You are a member of no project.", **shown)
        scoped = issued
        if issued.project is None:
            scoped = await identity.rescope(issued.token, str(projects[0]["id"]))
    except errors.Unauthorized:
        return _login_page(request, 401, "The domain, user or password is wrong.", **shown)
    except errors.OvercastError as exc:
        return _login_page(request, exc.status, str(exc), **shown)
    assert scoped.project is not None
    session = sessions.Session(
        csrf=sessions.new_csrf(),
        user_id=issued.user_id,
        user_name=issued.user_name,
        domain_name=values["domain"] or "Default",
        project_id=scoped.project[0],
        project_name=scoped.project[1],
        roles=scoped.roles,
        token=scoped.token,
        base_token=issued.token,
        expires_at=min(scoped.expires_at, issued.expires_at),
    )
    secret = await sessions.create(runtime.db, session)
    response = RedirectResponse(_next(request, values["next"]), status_code=303)
    _cookie(request, response, sessions.COOKIE, secret)
    response.delete_cookie(_LOGIN_CSRF, path=str(request.scope.get("root_path", "")) or "/")
    return response


async def _logout(p: web.Page) -> Response:
    identity = keystone.Keystone(p.runtime.endpoint("identity"))
    for token in {p.session.token, p.session.base_token}:
        await identity.revoke(token)
    await sessions.drop(p.runtime.db, p.session.secret)
    response = RedirectResponse(p.base + "/auth/login", status_code=303)
    response.delete_cookie(sessions.COOKIE, path=p.base or "/")
    return response


async def _projects(p: web.Page) -> Response:
    identity = keystone.Keystone(p.runtime.endpoint("identity"))
    projects = await identity.projects(p.session.token)
    return p.render("projects.html", projects=projects)


async def _switch(p: web.Page) -> Response:
    identity = keystone.Keystone(p.runtime.endpoint("identity"))
    project_id = p.field("project_id")
    try:
        issued = await identity.rescope(p.session.base_token, project_id)
    except errors.Unauthorized:  # Keystone's answer for a project one may not scope to
        return p.render("error.html", 403, message="You may not work in that project.")
    except (errors.Forbidden, errors.NotFound, errors.BadRequest) as exc:
        return p.render("error.html", exc.status, message=web.message(exc))
    assert issued.project is not None
    old = p.session.token
    await sessions.rescope(
        p.runtime.db, p.session, issued.token, issued.project, issued.roles, issued.expires_at
    )
    if old != p.session.base_token:
        await identity.revoke(old)
    return p.redirect("/project/", f"Now working in project {issued.project[1]}.")


async def _root(request: Request) -> Response:
    base = str(request.scope.get("root_path", ""))
    return RedirectResponse(base + "/project/", status_code=303)


routes = [
    Route("/", _root),
    Route("/auth/login", login_form, methods=["GET"]),
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/logout", web.page(_logout), methods=["POST"]),
    Route("/auth/projects", web.page(_projects), methods=["GET"]),
    Route("/auth/switch", web.page(_switch), methods=["POST"]),
]
