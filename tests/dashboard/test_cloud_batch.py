"""A page's batch without a server: a service missing from the catalog leaves an optional GET
empty and fails a required one, and both are counted."""

from __future__ import annotations

import pytest

from overcast.common import errors
from overcast.dashboard.cloud import Cloud, Get


def _no_endpoint(service: str) -> str:
    raise errors.ServiceUnavailable(f"no {service} endpoint in the catalog")


async def test_a_service_missing_from_the_catalog() -> None:
    cloud = Cloud(_no_endpoint, "token", "project")
    assert await cloud.batch(Get("block-storage", "/limits", optional=True)) == [None]
    with pytest.raises(errors.ServiceUnavailable):
        await cloud.batch(Get("block-storage", "/limits"))
    assert (cloud.calls, cloud.requests) == (2, 2)  # over HTTP (nothing here): a call each
