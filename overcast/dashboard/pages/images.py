"""Images: list, create with data uploaded from the browser (the page's script streams the file
through the dashboard to the image API, showing progress; without script the form posts it
whole), edit (JSON patch), share with projects (members; a project shared with accepts or
rejects), delete."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from overcast.common import errors
from overcast.dashboard import paging, web
from overcast.dashboard.cloud import Get
from overcast.dashboard.pages import timeline

DISK_FORMATS = ("raw", "qcow2", "iso", "vmdk", "vdi", "vhd", "vhdx", "ami", "ari", "aki", "ploop")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "docker", "ami", "ari", "aki", "compressed")
VISIBILITIES = ("private", "shared", "community", "public")
_REFUSED = (
    errors.BadRequest,
    errors.Conflict,
    errors.Forbidden,
    errors.OverQuota,
    errors.NotFound,
    errors.UnsupportedMediaType,
)
PAGING = paging.sorted_by("created_at")
_EDITABLE = ("name", "visibility", "min_disk", "min_ram", "os_distro")


async def _list(
    p: web.Page,
    status: int = 200,
    problems: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    window = paging.window(p.request)
    body = await p.cloud.get("image", "/v2/images", **window.params(PAGING))
    return p.render(
        "images.html",
        status,
        images=window.cut(body["images"], PAGING, lambda i: i["id"]),
        links=window.links({}),
        problems=problems or {},
        form=form or {},
        disk_formats=DISK_FORMATS,
        container_formats=CONTAINER_FORMATS,
        visibilities=VISIBILITIES,
    )


async def _page(p: web.Page) -> Response:
    return await _list(p)


def _record(p: web.Page) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": p.field("name"),
        "disk_format": p.field("disk_format", "raw") or "raw",
        "container_format": p.field("container_format", "bare") or "bare",
        "visibility": p.field("visibility", "private") or "private",
    }
    for key in ("min_disk", "min_ram"):
        value = p.field(key)
        if value:
            record[key] = int(value) if value.isdigit() else value
    return record


def _problems(exc: errors.OvercastError) -> dict[str, str]:
    said = web.message(exc)
    field = next(
        (
            k
            for k in (
                "disk_format",
                "container_format",
                "visibility",
                "min_disk",
                "min_ram",
                "name",
            )
            if k in said
        ),
        "form",
    )
    return {field: said, "form": said}


async def _create(p: web.Page) -> Response:
    """Create the record; with script the data follows to `/data`, without it is in the form."""
    record = _record(p)
    wants_json = "application/json" in p.request.headers.get("accept", "")
    try:
        image = await p.cloud.post("image", "/v2/images", record)
        upload = p.form.get("file") if p.form is not None else None
        if isinstance(upload, UploadFile) and upload.filename:
            await _put_data(p, image["id"], _chunks(upload))
    except _REFUSED as exc:
        if wants_json:
            return JSONResponse({"error": web.message(exc), "problems": _problems(exc)}, exc.status)
        return await _list(p, exc.status, _problems(exc), record)
    if wants_json:
        return JSONResponse({"id": image["id"]}, 201)
    return p.redirect(f"/project/images/{image['id']}", f"Image {record['name']} created.")


async def _chunks(upload: UploadFile) -> Any:
    while chunk := await upload.read(1 << 20):
        yield chunk


async def _put_data(p: web.Page, image_id: str, data: Any) -> None:
    await p.cloud.call(
        "PUT",
        "image",
        f"/v2/images/{image_id}/file",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )


async def _data(p: web.Page) -> Response:
    """The browser's upload, streamed to the image API as it arrives."""
    image_id = p.request.path_params["image_id"]
    try:
        await _put_data(p, image_id, p.request.stream())
    except _REFUSED as exc:
        return JSONResponse({"error": web.message(exc)}, exc.status)
    return JSONResponse({"id": image_id})


async def _detail(p: web.Page) -> Response:
    image_id = p.request.path_params["image_id"]
    image, members, trace = await p.cloud.batch(
        Get("image", f"/v2/images/{image_id}"),
        Get("image", f"/v2/images/{image_id}/members", optional=True),  # shared images only
        timeline.trace_get("image", f"/v2/images/{image_id}"),
    )
    return p.render(
        "image.html",
        image=image,
        members=(members or {}).get("members", []) if image.get("visibility") == "shared" else [],
        visibilities=VISIBILITIES,
        editable=_EDITABLE,
        trace=timeline.laid_out(trace),
    )


async def _edit(p: web.Page) -> Response:
    image_id = p.request.path_params["image_id"]
    image = await p.cloud.get("image", f"/v2/images/{image_id}")
    ops: list[dict[str, Any]] = []
    for key in _EDITABLE:
        value: Any = p.field(key)
        if key in ("min_disk", "min_ram") and value.isdigit():
            value = int(value)
        if value == "" and key not in image:
            continue
        if value != image.get(key):
            ops.append(
                {"op": "replace" if key in image else "add", "path": f"/{key}", "value": value}
            )
    try:
        if ops:
            await p.cloud.patch("image", f"/v2/images/{image_id}", ops)
    except _REFUSED as exc:
        return p.redirect(f"/project/images/{image_id}", error=web.message(exc))
    return p.redirect(f"/project/images/{image_id}", "Image updated.")


async def _share(p: web.Page) -> Response:
    image_id = p.request.path_params["image_id"]
    try:
        await p.cloud.post("image", f"/v2/images/{image_id}/members", {"member": p.field("member")})
    except _REFUSED as exc:
        return p.redirect(f"/project/images/{image_id}", error=web.message(exc))
    return p.redirect(f"/project/images/{image_id}", "Shared; the project must accept it.")


async def _answer(p: web.Page) -> Response:
    """The project shared with accepts or rejects the image."""
    image_id = p.request.path_params["image_id"]
    status = p.field("status")
    try:
        await p.cloud.put(
            "image", f"/v2/images/{image_id}/members/{p.session.project_id}", {"status": status}
        )
    except _REFUSED as exc:
        return p.redirect(f"/project/images/{image_id}", error=web.message(exc))
    return p.redirect(f"/project/images/{image_id}", f"Membership {status}.")


async def _delete(p: web.Page) -> Response:
    image_id = p.request.path_params["image_id"]
    try:
        await p.cloud.delete("image", f"/v2/images/{image_id}")
    except _REFUSED as exc:
        return p.redirect(f"/project/images/{image_id}", error=web.message(exc))
    return p.redirect("/project/images", "Image deleted.")


routes = [
    Route("/project/images", web.page(_page), methods=["GET"]),
    Route("/project/images", web.page(_create), methods=["POST"]),
    Route("/project/images/{image_id}", web.page(_detail)),
    Route("/project/images/{image_id}/data", web.page(_data), methods=["PUT"]),
    Route("/project/images/{image_id}/edit", web.page(_edit), methods=["POST"]),
    Route("/project/images/{image_id}/share", web.page(_share), methods=["POST"]),
    Route("/project/images/{image_id}/answer", web.page(_answer), methods=["POST"]),
    Route("/project/images/{image_id}/delete", web.page(_delete), methods=["POST"]),
]
