"""Image data out (GET /file): whole or a byte range, streamed from the first store that has it.

Only an active image has data to give (deactivated ones to admins only); while data is on its
way in, a download is refused with 409 rather than served partial.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from overcast.common import errors, log
from overcast.common.context import RequestContext
from overcast.image import images
from overcast.image.state import ImageState

LOG = log.get(__name__)


@dataclass
class Download:
    size: int  # bytes in this response
    total: int  # bytes in the image
    start: int
    checksum: str | None
    chunks: AsyncIterator[bytes]


async def download(
    st: ImageState, ctx: RequestContext, image_id: str, byte_range: tuple[int, int | None] | None
) -> Download | None:
    """The image's bytes (or a range of them); None when the image has no data yet."""
    async with st.db.reader() as session:
        image = await images.load(session, st, ctx, image_id)
        await images.authorize(session, st, ctx, image, "download_image")
    if image.status == "deactivated" and not ctx.is_admin:
        raise errors.Forbidden(
            "The requested image has been deactivated. Image data download is forbidden."
        )
    if image.status in ("saving", "uploading", "importing"):
        raise errors.Conflict(
            f"Image {image_id} is {image.status}: its data can be downloaded once it is active."
        )
    if image.status not in ("active", "deactivated") or image.size is None:
        return None
    start, end = 0, image.size - 1
    if byte_range is not None:
        start, last = byte_range
        if start < 0:  # a suffix range: the last -start bytes
            start = max(0, image.size + start)
        end = min(image.size - 1, last if last is not None else image.size - 1)
        if start > end:
            raise errors.RangeNotSatisfiable(f"Requested range is not satisfiable: {start}-{last}.")
    length = end - start + 1
    for location in image.locations:
        store = st.stores.by_name.get(location.store)
        if store is None:
            continue
        chunks = store.read(location.url, start, length).__aiter__()
        try:
            first = await anext(chunks) if length else b""
        except errors.NotFound:
            LOG.warning("image data missing", extra={"fields": {"image": image_id}})
            continue
        return Download(length, image.size, start, image.checksum, _prepend(first, chunks))
    raise errors.NotFound(f"Image {image_id} has no data in any available store.")


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk
