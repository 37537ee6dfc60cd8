"""Version discovery: `/` lists the API versions, `/v2.1` describes the one served, with the
microversion range (2.1 to `MAX`). Both answer without a token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from overcast.common.http.microversions import APIVersion, VersionRange

MIN = APIVersion(2, 1)
MAX = APIVersion(2, 96)
RANGE = VersionRange("compute", MIN, MAX, legacy_header="x-openstack-nova-api-version")

router = APIRouter()


def _v21(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(MAX),
        "min_version": str(MIN),
        "updated": "2013-07-23T11:33:21Z",
        "links": [
            {"rel": "self", "href": f"{base}/v2.1/"},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


def _base(request: Request) -> str:
    from overcast.compute.api.deps import base_url

    return base_url(request)


PREFIX = "/compute"
NOVNC = "/console/novnc/"


def public(method: str, path: str) -> bool:
    """Version discovery, the metadata API (guests, proxied) and noVNC's page need no token
    (`path` is the full path, mount point included)."""
    if path.startswith(PREFIX):
        path = path[len(PREFIX) :]
    if method == "GET" and (path == "/metadata" or path.startswith(("/metadata/", NOVNC))):
        return True
    return method == "GET" and path.rstrip("/") in ("", "/v2.1", "/v2")


def _v20(base: str) -> dict[str, Any]:
    """The legacy v2.0 API: the same routes without microversions (2.1 behaviour)."""
    return {
        **_v21(base),
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": f"{base}/v2/"}],
    }


@router.get("/")
async def root(request: Request) -> dict[str, Any]:
    base = _base(request)
    return {"versions": [_v20(base), _v21(base)]}


@router.get("/v2")
@router.get("/v2/")
async def legacy(request: Request) -> dict[str, Any]:
    return {"version": _v20(_base(request))}


@router.get("/v2.1")
@router.get("/v2.1/")
async def current(request: Request) -> dict[str, Any]:
    return {"version": _v21(_base(request))}
