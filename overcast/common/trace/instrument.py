"""Spans for calls that are not requests: driver calls and database statements.

`TracedCalls`, a base of the driver contracts (compute, network, volume, image stores): every
public coroutine method a driver class defines runs in a `driver` span when a trace is active
(one contextvar read otherwise). `watch` hooks an engine so that the current `db` span (opened
by `Database.session`) counts its statements and names the tables it writes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from overcast.common.trace import spans

_WRITES = ("INSERT", "UPDATE", "DELETE")
_MAX_WRITES = 12
_QUOTES = "`\"'"


def _traced(fn: Callable[..., Awaitable[Any]], label: str) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        if spans.current() is None:
            return await fn(*args, **kwargs)
        with spans.span(label, "driver", method=fn.__name__):
            return await fn(*args, **kwargs)

    call.__traced__ = True  # type: ignore[attr-defined]
    return call


class TracedCalls:
    """Driver contracts derive from this: their implementations' calls become spans."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if name.startswith("_") or getattr(value, "__traced__", False):
                continue
            if inspect.iscoroutinefunction(value):
                setattr(cls, name, _traced(value, f"{cls.__name__}.{name}"))


def _table(statement: str) -> str | None:
    """`INSERT compute_instance` for a write statement, else None."""
    words = statement.split(None, 4)
    if not words or words[0].upper() not in _WRITES:
        return None
    verb = words[0].upper()
    rest = words[2:] if verb != "UPDATE" and len(words) > 2 else words[1:]
    return f"{verb} {rest[0].strip(_QUOTES)}" if rest else verb


def on_statement(
    _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    """SQLAlchemy's before_cursor_execute, registered by `Database`."""
    found = spans.current()
    if found is None or found.kind != "db":
        return
    info = found.info
    info["statements"] = info.get("statements", 0) + 1
    table = _table(statement)
    if table is not None:
        writes = info.setdefault("writes", [])
        if table not in writes and len(writes) < _MAX_WRITES:
            writes.append(table)
