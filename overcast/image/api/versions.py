"""Version discovery: GET / (300 Multiple Choices) and GET /versions, as Glance answers them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.responses import JSONResponse

from overcast.image.api import state
from overcast.image.state import ImageState

router = APIRouter()

CURRENT_MINOR = 17  # Glance 2024.2 and later


def document(endpoint: str) -> dict[str, Any]:
    href = f"{endpoint.rstrip('/')}/v2/"
    return {
        "versions": [
            {
                "id": f"v2.{minor}",
                "status": "CURRENT" if minor == CURRENT_MINOR else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for minor in range(CURRENT_MINOR, -1, -1)
        ]
    }


@router.get("/")
async def root(st: ImageState = Depends(state)) -> JSONResponse:
    return JSONResponse(document(st.endpoint), status_code=300)


@router.get("/versions")
async def versions(st: ImageState = Depends(state)) -> JSONResponse:
    return JSONResponse(document(st.endpoint))
