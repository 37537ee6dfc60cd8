"""Version discovery at `/` and `/v3`, as Keystone answers it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()

MEDIA = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


def _v3(request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/v3/"}],
        "media-types": MEDIA,
    }


@router.get("/")
async def versions(request: Request) -> JSONResponse:
    return JSONResponse({"versions": {"values": [_v3(request)]}}, status_code=300)


@router.get("/v3")
@router.get("/v3/")
async def version(request: Request) -> dict[str, Any]:
    return {"version": _v3(request)}
