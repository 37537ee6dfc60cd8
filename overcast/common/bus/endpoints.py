"""One bus endpoint made of several small objects.

A role's bus methods live in a few plain classes, each handed what it needs; `combine` gathers
their public coroutine methods into the one object `Bus.serve` takes (`Endpoint(a, b)`). Used by the compute
agent and conductor (and any role split the same way).
"""

from __future__ import annotations

import inspect
from typing import Any


class Endpoint:
    """The public async methods of `parts`, under their own names; a name may appear once."""

    def __init__(self, *parts: object) -> None:
        self._methods: dict[str, Any] = {}
        for part in parts:
            for name, method in inspect.getmembers(part, inspect.iscoroutinefunction):
                if name.startswith("_"):
                    continue
                if name in self._methods:
                    raise ValueError(f"two bus methods are named {name!r}")
                self._methods[name] = method

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_methods"][name]
        except KeyError:
            raise AttributeError(name) from None

    def names(self) -> list[str]:
        """The bus methods served (for tests and logs)."""
        return sorted(self._methods)
