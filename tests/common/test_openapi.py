"""Every service publishes its OpenAPI description, without a token, so its API can be fuzzed."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers.server import Server


@pytest.mark.parametrize("prefix", ["", "/image", "/compute"])
def test_openapi_published(server: Server, prefix: str) -> None:
    response = httpx.get(f"{server.url}{prefix}/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    assert len(spec["paths"]) > 5
