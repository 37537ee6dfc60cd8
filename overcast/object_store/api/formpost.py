"""Uploads from an HTML form, as Swift's formpost middleware takes them: a `multipart/form-data`
POST to `/v1/<account>/<container>[/<prefix>]` whose `signature` is an HMAC (SHA1, SHA256 or
SHA512, as temp URLs) of `path\\nredirect\\nmax_file_size\\nmax_file_count\\nexpires` under an
account or container Temp-URL-Key. Each file field becomes `<prefix><filename>`; the answer is
201 (or a 303 to `redirect` with the status and message in its query)."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import Headers, UploadFile
from starlette.responses import RedirectResponse, Response

from overcast.common import errors
from overcast.object_store import access, tempurl
from overcast.object_store.api import objects
from overcast.object_store.api.call import Call

READ = 1 << 20


def _signature_ok(paths: tuple[str, ...], form: Any, keys: list[str]) -> bool:
    """Whether the form is signed under one of `keys` for one of `paths` (as Swift sees the
    path, and as the client called it: see `tempurl.valid`)."""
    sig = str(form.get("signature", ""))
    if not sig or not keys:
        return False
    algo, wanted = tempurl.split_signature(sig)
    body = "\n".join(
        str(form.get(k, "")) for k in ("redirect", "max_file_size", "max_file_count", "expires")
    )
    for key in keys:
        for path in paths:
            mac = hmac.new(key.encode(), f"{path}\n{body}".encode(), tempurl.ALGORITHMS[algo])
            if hmac.compare_digest(mac.digest(), wanted):
                return True
    return False


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(READ):
        yield chunk


def _answer(redirect: str, status: int, message: str) -> Response:
    if redirect:
        sep = "&" if "?" in redirect else "?"
        return RedirectResponse(
            f"{redirect}{sep}{urlencode({'status': status, 'message': message})}", 303
        )
    return Response(
        f"{status} {message}", status_code=status if status >= 400 else 201, media_type="text/plain"
    )


async def handle(call: Call) -> Response:
    assert call.container is not None
    try:
        form = await call.request.form(max_files=10000, max_fields=1000)
    except Exception as exc:  # noqa: BLE001 - python-multipart's errors are its own
        raise errors.BadRequest(f"FormPost: invalid form: {exc}") from None
    try:
        expires = int(str(form.get("expires", "")))
        max_size = int(str(form.get("max_file_size", "")))
        max_count = int(str(form.get("max_file_count", "")))
    except ValueError:
        raise errors.Unauthorized(
            "FormPost: expires, max_file_size and max_file_count must be integers"
        ) from None
    if expires < time.time():
        raise errors.Unauthorized("FormPost: Form Expired")
    account = await call.st.containers.account(call.account)
    info = await call.container_info()
    keys = [account.get(k) for k in tempurl.KEYS]
    if info is not None:
        keys += [info.get(k) for k in tempurl.CONTAINER_KEYS]
    prefix = call.obj or ""
    path = f"/v1/{call.account}/{call.container}" + (f"/{prefix}" if prefix else "")
    if not _signature_ok((path, call.mount + path), form, [k for k in keys if k]):
        raise errors.Unauthorized("FormPost: Invalid Signature")
    if info is None:
        raise errors.NotFound()
    redirect = str(form.get("redirect", ""))
    files = [v for _k, v in form.multi_items() if isinstance(v, UploadFile) and v.filename]
    if len(files) > max_count:
        return _answer(redirect, 400, "max file count exceeded")
    owner = access.Caller(None, call.account, owner=True, reseller=False)
    extra = {k: str(form[k]) for k in ("x_delete_at", "x_delete_after") if k in form}
    for upload in files:
        size = await asyncio.to_thread(upload.file.seek, 0, 2)
        await upload.seek(0)
        if size > max_size:
            return _answer(redirect, 400, "max_file_size exceeded")
        headers = {
            "content-length": str(size),
            "content-type": upload.content_type or "application/octet-stream",
        }
        headers |= {k.replace("_", "-"): v for k, v in extra.items()}
        sub = Call(
            call.request,
            call.st,
            "PUT",
            call.account,
            call.container,
            prefix + str(upload.filename),
            Headers(headers=headers),
            {},
            None,
            owner,
            body=_chunks(upload),
        )
        try:
            await objects.handle(sub)
        except errors.OvercastError as exc:
            return _answer(redirect, exc.status, exc.message)
    return _answer(redirect, 201, "Created")


def is_form(call: Call) -> bool:
    return call.method == "POST" and call.header("content-type").startswith("multipart/form-data")
