"""Object storage: containers (create, make public or private, delete) and their objects by
folder (pseudo-folders of `/`-delimited names: browse, create), uploaded from the browser
with progress (streamed through), downloaded, deleted; a public container's objects get a
public link."""

from __future__ import annotations

import urllib.parse
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from overcast.common import errors
from overcast.dashboard import paging, web

_REFUSED = (
    errors.BadRequest,
    errors.Conflict,
    errors.Forbidden,
    errors.NotFound,
    errors.OverQuota,
    errors.RemoteError,
)
_PUBLIC = ".r:*,.rlistings"


def _q(name: str) -> str:
    return urllib.parse.quote(name, safe="/")


async def _containers(p: web.Page) -> Response:
    window = paging.window(p.request)
    found = await p.cloud.get("object-store", "", format="json", **window.params(paging.SWIFT))
    containers = window.cut(found, paging.SWIFT, lambda c: c["name"])
    return p.render("containers.html", containers=containers, links=window.links({}))


async def _create_container(p: web.Page) -> Response:
    name = p.field("name")
    if not name or "/" in name:
        return p.redirect("/project/containers", error="A container name is needed, without '/'.")
    headers = {"X-Container-Read": _PUBLIC} if p.field("public") == "on" else {}
    try:
        await p.cloud.call("PUT", "object-store", f"/{_q(name)}", headers=headers)
    except _REFUSED as exc:
        return p.redirect("/project/containers", error=web.message(exc))
    return p.redirect(f"/project/containers/{_q(name)}", f"Container {name} created.")


async def _container(p: web.Page) -> Response:
    name = p.request.path_params["container"]
    prefix = p.request.query_params.get("prefix", "")
    window = paging.window(p.request)
    params = {"format": "json", "prefix": prefix, "delimiter": "/", **window.params(paging.SWIFT)}
    response = await p.cloud.call("GET", "object-store", f"/{_q(name)}", params=params)
    listing: list[dict[str, Any]] = window.cut(
        response.json(), paging.SWIFT, lambda e: e.get("name") or e["subdir"]
    )
    public = ".r:*" in response.headers.get("x-container-read", "")
    return p.render(
        "container.html",
        container=name,
        prefix=prefix,
        folders=[e["subdir"] for e in listing if "subdir" in e],
        objects=[e for e in listing if "name" in e],
        public=public,
        links=window.links({"prefix": prefix}),
        public_base=p.cloud.url("object-store") + "/" + _q(name) + "/",
        quote=_q,
        parent=prefix.rstrip("/").rpartition("/")[0] + "/" if "/" in prefix.rstrip("/") else "",
    )


async def _container_post(p: web.Page) -> Response:
    """Folder create, visibility change, upload without script, delete: by `op`."""
    name = p.request.path_params["container"]
    prefix = p.field("prefix")
    here = f"/project/containers/{_q(name)}" + (
        f"?prefix={urllib.parse.quote(prefix)}" if prefix else ""
    )
    op = p.field("op")
    try:
        if op == "folder":
            folder = p.field("folder").strip("/")
            if not folder:
                return p.redirect(here, error="A folder name is needed.")
            await p.cloud.call(
                "PUT",
                "object-store",
                f"/{_q(name)}/{_q(prefix + folder)}/",
                content=b"",
                headers={"Content-Type": "application/directory"},
            )
        elif op in ("public", "private"):
            read = _PUBLIC if op == "public" else ""
            await p.cloud.call(
                "POST", "object-store", f"/{_q(name)}", headers={"X-Container-Read": read}
            )
        elif op == "upload":
            upload = p.form.get("file") if p.form is not None else None
            if not isinstance(upload, UploadFile) or not upload.filename:
                return p.redirect(here, error="Choose a file to upload.")
            await p.cloud.call(
                "PUT",
                "object-store",
                f"/{_q(name)}/{_q(prefix + upload.filename)}",
                content=await upload.read(),
            )
        elif op == "delete":
            await p.cloud.delete("object-store", f"/{_q(name)}")
            return p.redirect("/project/containers", f"Container {name} deleted.")
        else:
            return p.redirect(here, error="Unknown operation.")
    except _REFUSED as exc:
        return p.redirect(here, error=web.message(exc))
    return p.redirect(here, "Done.")


async def _object_put(p: web.Page) -> Response:
    """The browser's upload of one object, streamed through as it arrives."""
    container = p.request.path_params["container"]
    name = p.request.query_params.get("name", "")
    if not name:
        return JSONResponse({"error": "An object name is needed."}, 400)
    try:
        await p.cloud.call(
            "PUT", "object-store", f"/{_q(container)}/{_q(name)}", content=p.request.stream()
        )
    except _REFUSED as exc:
        return JSONResponse({"error": web.message(exc)}, exc.status)
    return JSONResponse({"name": name})


async def _object_get(p: web.Page) -> Response:
    container = p.request.path_params["container"]
    name = p.request.query_params.get("name", "")
    chunks = p.cloud.stream("object-store", f"/{_q(container)}/{_q(name)}")
    first = await anext(chunks, b"")  # errors (404) surface before the answer starts

    async def body() -> Any:
        yield first
        async for chunk in chunks:
            yield chunk

    filename = urllib.parse.quote(name.rpartition("/")[2] or "object")
    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


async def _object_delete(p: web.Page) -> Response:
    container = p.request.path_params["container"]
    name = p.field("name")
    prefix = name.rpartition("/")[0] + "/" if "/" in name.rstrip("/") else ""
    await p.cloud.delete("object-store", f"/{_q(container)}/{_q(name)}")
    query = f"?prefix={urllib.parse.quote(prefix)}" if prefix else ""
    return p.redirect(f"/project/containers/{_q(container)}{query}", f"{name} deleted.")


routes = [
    Route("/project/containers", web.page(_containers), methods=["GET"]),
    Route("/project/containers", web.page(_create_container), methods=["POST"]),
    Route("/project/containers/{container}", web.page(_container), methods=["GET"]),
    Route("/project/containers/{container}", web.page(_container_post), methods=["POST"]),
    Route("/project/containers/{container}/object", web.page(_object_get), methods=["GET"]),
    Route("/project/containers/{container}/object", web.page(_object_put), methods=["PUT"]),
    Route(
        "/project/containers/{container}/delete-object", web.page(_object_delete), methods=["POST"]
    ),
]
