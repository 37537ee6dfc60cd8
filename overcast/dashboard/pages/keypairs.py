"""Key pairs: list, create (the private key is handed to the browser once, as a download, and
never kept), import a public key, show, delete; and `new.json`, the launch form's inline
create."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from overcast.common import errors
from overcast.dashboard import paging, web

# Compute generates key pairs up to 2.91 (from 2.92 a public key is required).
_GENERATE = {"OpenStack-API-Version": "compute 2.91"}
_REFUSED = (errors.BadRequest, errors.Conflict, errors.Forbidden, errors.OverQuota)


async def _list(
    p: web.Page, status: int = 200, problem: str = "", created: dict | None = None
) -> Response:
    window = paging.window(p.request)
    body = await p.cloud.get("compute", "/os-keypairs", **window.params(paging.FORWARD_ONLY))
    rows = window.cut(body["keypairs"], paging.FORWARD_ONLY, lambda k: k["keypair"]["name"])
    return p.render(
        "keypairs.html",
        status,
        keypairs=[k["keypair"] for k in rows],
        links=window.links({}),
        problem=problem,
        created=created,
    )


async def _page(p: web.Page) -> Response:
    return await _list(p)


async def _create(p: web.Page) -> Response:
    keypair = {"name": p.field("name"), "type": p.field("type", "ssh") or "ssh"}
    public_key = p.field("public_key")
    if public_key:
        keypair["public_key"] = public_key
    try:
        headers = None if public_key else _GENERATE
        body = await p.cloud.post("compute", "/os-keypairs", {"keypair": keypair}, headers)
        made = body["keypair"]
    except _REFUSED as exc:
        return await _list(p, exc.status, web.message(exc))
    return await _list(p, 201 if "private_key" in made else 200, created=made)


async def _new_json(p: web.Page) -> Response:
    try:
        made = (
            await p.cloud.post(
                "compute", "/os-keypairs", {"keypair": {"name": p.field("name")}}, _GENERATE
            )
        )["keypair"]
    except _REFUSED as exc:
        return JSONResponse({"error": web.message(exc)}, exc.status)
    return JSONResponse({"name": made["name"], "private_key": made.get("private_key", "")})


async def _detail(p: web.Page) -> Response:
    name = p.request.path_params["name"]
    keypair = (await p.cloud.get("compute", f"/os-keypairs/{name}"))["keypair"]
    return p.render("keypair.html", keypair=keypair)


async def _public_key(p: web.Page) -> Response:
    name = p.request.path_params["name"]
    keypair = (await p.cloud.get("compute", f"/os-keypairs/{name}"))["keypair"]
    return Response(
        keypair["public_key"],
        media_type="text/plain",
        headers={"Content-Disposition": f'attachment; filename="{_safe(name)}.pub"'},
    )


async def _delete(p: web.Page) -> Response:
    name = p.request.path_params["name"]
    await p.cloud.delete("compute", f"/os-keypairs/{name}")
    return p.redirect("/project/keypairs", f"Key pair {name} deleted.")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "key"


routes = [
    Route("/project/keypairs", web.page(_page), methods=["GET"]),
    Route("/project/keypairs", web.page(_create), methods=["POST"]),
    Route("/project/keypairs/new.json", web.page(_new_json), methods=["POST"]),
    Route("/project/keypairs/{name}", web.page(_detail), methods=["GET"]),
    Route("/project/keypairs/{name}/public-key", web.page(_public_key), methods=["GET"]),
    Route("/project/keypairs/{name}/delete", web.page(_delete), methods=["POST"]),
]
