"""Compute's image client: concurrent reads of one image record (a burst of boots whose cached
record expired) share one request to the image service; a failed one lets each read for
itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from overcast.clients import image
from overcast.common import errors


class _Response:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body


async def test_concurrent_reads_share_one_request(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    fail = [True]

    async def request(self: image.ImageClient, method: str, path: str, **_: Any) -> _Response:
        sent.append(path)
        await asyncio.sleep(0.01)
        if fail[0]:
            raise errors.ServiceUnavailable("away")
        return _Response({"id": path.rsplit("/", 1)[1], "status": "active"})

    monkeypatch.setattr(image.ImageClient, "request", request)
    monkeypatch.setattr(image, "_CACHE", {})
    client = image.ImageClient("http://image.test", "token")
    failed = await asyncio.gather(*(client.get("a") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, errors.ServiceUnavailable) for r in failed)
    assert len(sent) == 3  # the first failed: the others asked for themselves
    sent.clear()
    fail[0] = False
    found = await asyncio.gather(*(client.get("b") for _ in range(5)))
    assert found == [{"id": "b", "status": "active"}] * 5 and sent == ["/v2/images/b"]
    found[0]["status"] = "changed"  # each caller has its own copy
    assert (await client.get("b"))["status"] == "active" and sent == ["/v2/images/b"]
