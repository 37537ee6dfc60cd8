"""Reading traces in tests: wait for a resource's trace to reach a step, check step order."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def names(trace: dict[str, Any]) -> list[str]:
    return [s["name"] for s in trace["spans"]]


def has(*steps: str) -> Callable[[dict[str, Any]], bool]:
    return lambda trace: set(steps) <= set(names(trace))


def failed(trace: dict[str, Any]) -> bool:
    return any(s["status"] == "error" for s in trace["spans"])


def wait_trace(
    adapter: Any, path: str, until: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> dict[str, Any]:
    """GET `path` (a trace) until `until` holds. A 404 is allowed at first: the recorder
    writes a trace's link within ~50 ms of the request."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        response = adapter.get(path)
        assert response.status_code in (200, 404), response.text
        if response.status_code == 200:
            trace = dict(response.json()["trace"])
            if until(trace):
                return trace
            seen = names(trace)
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)


def in_order(trace: dict[str, Any], *steps: str) -> None:
    found = names(trace)
    firsts = [found.index(step) for step in steps]
    assert firsts == sorted(firsts), found
