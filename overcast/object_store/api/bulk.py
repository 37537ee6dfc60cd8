"""Swift's bulk middleware: `POST` or `DELETE ?bulk-delete` (a newline-separated list of
`/container/object` and `/container` paths, deleted one by one with the caller's rights) and
`PUT ?extract-archive=tar|tar.gz|tar.bz2` (each file of the archive becomes an object, under the
path of the request). Each answers with counts and per-path errors in the listing formats."""

from __future__ import annotations

import asyncio
import functools
import json
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable
from typing import IO, Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from starlette.datastructures import Headers
from starlette.responses import Response

from overcast.common import errors
from overcast.object_store import constraints
from overcast.object_store.api import containers, objects
from overcast.object_store.api.call import Call

MAX_DELETES = 10000
MAX_FAILED = 1000
MAX_PATH_LIST = MAX_DELETES * (constraints.MAX_OBJECT_NAME_LENGTH + 512)
MAX_CONTAINERS = 10000
READ = 1 << 20
KINDS: dict[str, Callable[..., tarfile.TarFile]] = {
    "tar": tarfile.TarFile.taropen,
    "tar.gz": tarfile.TarFile.gzopen,
    "tar.bz2": tarfile.TarFile.bz2open,
}
STATUS_TEXT = {
    200: "200 OK",
    201: "201 Created",
    400: "400 Bad Request",
    413: "413 Request Entity Too Large",
}


def _answer(call: Call, result: dict[str, Any]) -> Response:
    accept = call.header("accept").lower()
    if "json" in accept:
        return Response(json.dumps(result), media_type="application/json")
    if "xml" in accept:
        inner = "".join(
            f"<{k.lower().replace(' ', '_')}>{escape(str(v))}</{k.lower().replace(' ', '_')}>"
            for k, v in result.items()
            if k != "Errors"
        )
        errs = "".join(
            f"<object><name>{escape(p)}</name><status>{escape(s)}</status></object>"
            for p, s in result["Errors"]
        )
        return Response(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<delete>{inner}<errors>{errs}</errors></delete>',
            media_type="application/xml",
        )
    lines = [f"{k}: {v}" for k, v in result.items() if k != "Errors"]
    lines.append("Errors:")
    lines += [f"{p}, {s}" for p, s in result["Errors"]]
    return Response("\n".join(lines) + "\n", media_type="text/plain")


def _status(exc: errors.OvercastError) -> str:
    return f"{exc.status} {exc.title}"


async def bulk_delete(call: Call) -> Response:
    raw = b""
    async for chunk in call.body if call.body is not None else call.request.stream():
        raw += chunk
        if len(raw) > MAX_PATH_LIST:
            raise errors.PayloadTooLarge("Maximum Bulk Deletes: 10000 per request")
    paths = [
        unquote(line.strip(), errors="strict")
        for line in raw.decode("utf-8", "replace").splitlines()
        if line.strip()
    ]
    if len(paths) > MAX_DELETES:
        raise errors.PayloadTooLarge("Maximum Bulk Deletes: 10000 per request")
    deleted = missing = 0
    failures: list[list[str]] = []
    for path in paths:
        container, _, obj = path.lstrip("/").partition("/")
        if not container:
            failures.append([path, "400 Bad Request"])
            continue
        sub = Call(
            call.request,
            call.st,
            "DELETE",
            call.account,
            container,
            obj or None,
            call.headers,
            {},
            call.context,
            call._caller,
        )
        try:
            if obj:
                await objects.handle(sub)
            else:
                await containers.handle(sub)
            deleted += 1
        except errors.NotFound:
            missing += 1
        except errors.OvercastError as exc:
            failures.append([path, _status(exc)])
            if len(failures) >= MAX_FAILED:
                break
    status = 400 if failures else 200
    return _answer(
        call,
        {
            "Number Deleted": deleted,
            "Number Not Found": missing,
            "Response Body": "",
            "Response Status": STATUS_TEXT[status],
            "Errors": failures,
        },
    )


async def _spool(call: Call) -> IO[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    async for chunk in objects.request_body(call):
        await asyncio.to_thread(spool.write, chunk)
    spool.seek(0)
    return spool


async def _member_body(handle: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(handle.read, READ):
        yield chunk


async def extract(call: Call, kind: str) -> Response:
    """Every regular file of the archive, as `<container>/<prefix><path>` (or, at the account,
    `<first path part>/<rest>`)."""
    opener = KINDS.get(kind)
    if opener is None:
        raise errors.BadRequest(f"Unsupported archive format: {kind}")
    spool = await _spool(call)
    created = 0
    failures: list[list[str]] = []
    made: set[str] = set()
    try:
        try:
            archive = await asyncio.to_thread(functools.partial(opener, None, "r", fileobj=spool))
        except (tarfile.TarError, EOFError, OSError):
            raise errors.BadRequest("Invalid Tar File: not a readable archive") from None
        with archive:
            for member in await asyncio.to_thread(archive.getmembers):
                if not member.isfile():
                    continue
                path = member.name.lstrip("./").lstrip("/")
                if call.container is not None:
                    container, obj = call.container, (call.obj + "/" if call.obj else "") + path
                else:
                    container, _, obj = path.partition("/")
                if not container or not obj:
                    continue
                target = f"/{container}/{obj}"
                try:
                    constraints.split_path(f"/v1/{call.account}/{container}/{obj}")
                    if (
                        container not in made
                        and await call.st.containers.info(call.account, container) is None
                    ):
                        if len(made) >= MAX_CONTAINERS:
                            raise errors.BadRequest("More than 10000 containers to create")
                        await containers.handle(
                            Call(
                                call.request,
                                call.st,
                                "PUT",
                                call.account,
                                container,
                                None,
                                call.headers,
                                {},
                                call.context,
                                call._caller,
                            )
                        )
                    made.add(container)
                    handle = archive.extractfile(member)
                    assert handle is not None
                    headers = {"content-length": str(member.size)}
                    sub = Call(
                        call.request,
                        call.st,
                        "PUT",
                        call.account,
                        container,
                        obj,
                        Headers(headers=headers),
                        {},
                        call.context,
                        call._caller,
                        body=_member_body(handle),
                    )
                    await objects.handle(sub)
                    created += 1
                except errors.OvercastError as exc:
                    failures.append([target, _status(exc)])
                    if len(failures) >= MAX_FAILED:
                        break
    finally:
        spool.close()
    status = 400 if failures else 201
    return _answer(
        call,
        {
            "Number Files Created": created,
            "Response Body": "",
            "Response Status": STATUS_TEXT[status],
            "Errors": failures,
        },
    )
