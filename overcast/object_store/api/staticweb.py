"""Containers served as websites, as Swift's staticweb does: for anonymous requests (or with
`X-Web-Mode: true`) to a container with `X-Container-Meta-Web-Index` or `-Web-Listings`, a
path ending in `/` serves its index object or an HTML listing, a pseudo-directory without the
slash is redirected to it, and a missing object answers with `<code><Web-Error>` when set.
A listing links `X-Container-Meta-Web-Listings-CSS` as its style sheet.
Reading still needs the container's read ACL (`.r:*`)."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from starlette.responses import RedirectResponse, Response

from overcast.common import errors
from overcast.object_store import access, listing
from overcast.object_store.api import objects
from overcast.object_store.api.call import Call
from overcast.object_store.containers import ContainerInfo


def applies(call: Call, info: ContainerInfo | None) -> bool:
    if call.method not in ("GET", "HEAD") or info is None:
        return False
    if call.context is not None and call.header("x-web-mode").lower() not in ("true", "1", "yes"):
        return False
    return bool(info.get("x-container-meta-web-index") or info.get("x-container-meta-web-listings"))


def _sub(call: Call, obj: str) -> Call:
    return Call(
        call.request,
        call.st,
        call.method,
        call.account,
        call.container,
        obj,
        call.headers,
        call.params,
        call.context,
        call._caller,
    )


async def handle(call: Call, info: ContainerInfo) -> Response:
    assert call.container is not None
    caller = await call.caller()
    if not access.may_read(
        caller, info.get("x-container-read"), call.header("referer"), listing=False
    ):
        raise caller.denied()
    index = info.get("x-container-meta-web-index")
    path = call.obj or ""
    if call.obj is None and not call.request.url.path.endswith("/"):
        return RedirectResponse(call.request.url.path + "/", 301)
    if path == "" or path.endswith("/"):
        if index:
            try:
                return await objects.handle(_sub(call, path + index))
            except errors.NotFound:
                pass
        if info.get("x-container-meta-web-listings").lower() in ("true", "1", "yes", "on"):
            return await _listing(call, info, path)
        return await _error(call, info, 404)
    try:
        return await objects.handle(_sub(call, path))
    except errors.NotFound:
        if index and await objects.current(call, call.account, call.container, f"{path}/{index}"):
            return RedirectResponse(call.request.url.path + "/", 301)
        return await _error(call, info, 404)


async def _listing(call: Call, info: ContainerInfo, prefix: str) -> Response:
    query = listing.Query(prefix=prefix, delimiter="/", limit=10000)
    async with call.st.db.reader() as session:
        items = await listing.walk(session, query, listing.objects_page(info.id))
    if not items and prefix:
        return await _error(call, info, 404)
    rows = []
    for item in items:
        name = item if isinstance(item, str) else item.name
        shown = name[len(prefix) :]
        size = "" if isinstance(item, str) else str(item.size)
        rows.append(
            f'<tr><td><a href="{quote(shown)}">{escape(shown)}</a></td><td>{size}</td></tr>'
        )
    title = escape(f"Listing of /{call.account}/{call.container}/{prefix}")
    body = (
        f"<!DOCTYPE html>\n<html><head><title>{title}</title>{_stylesheet(info, prefix)}"
        f"</head><body><h1>{title}</h1>"
        f"<table><tr><th>Name</th><th>Size</th></tr>{''.join(rows)}</table></body></html>"
    )
    return Response(body, media_type="text/html; charset=UTF-8")


def _stylesheet(info: ContainerInfo, prefix: str) -> str:
    """The `<link>` to `X-Container-Meta-Web-Listings-CSS`: a relative name is the container's
    object, reached from a listing `prefix` deep; a URL or an absolute path is used as is."""
    css = info.get("x-container-meta-web-listings-css")
    if not css:
        return ""
    href = quote(css, safe=":/")
    if "://" not in css and not css.startswith("/"):
        href = "../" * prefix.count("/") + href
    return f'\n<link rel="stylesheet" type="text/css" href="{escape(href)}" />\n'


async def _error(call: Call, info: ContainerInfo, status: int) -> Response:
    page = info.get("x-container-meta-web-error")
    if page:
        found = await objects.current(call, call.account, info.name, f"{status}{page}")
        if found is not None:
            body = b"".join([c async for c in call.st.replicas.read(found, 0, found.stored.size)])
            media = found.stored.metadata.get("Content-Type", "text/html")
            return Response(body, status_code=status, headers={"Content-Type": media})
    raise errors.NotFound()
