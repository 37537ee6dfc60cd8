"""Spans and the trace context every request carries in a contextvar.

A `Trace` is one request's tree of `Span`s, shaped like osprofiler's: the trace id (osprofiler's
base id), each span's id and its parent's. Kinds: `wsgi` (a REST request served), `rpc` (a bus
message handled), `db` (a database transaction), `driver` (a driver call) and `step` (a named
step of a workflow: "quota reserved", "scheduled").

A request's trace starts unsampled: its spans are held in memory (a few, bounded) and dropped
when the request ends, unless the domain links the request to a resource (`recorder.link`,
i.e. a boot, a volume create) or the caller sent a signed X-Trace-Info header: then the trace
is sampled and its spans, held and new, go to the sink (`recorder`), which writes them to the
database. Outside any request `span()` is a no-op costing one contextvar read.
Called by the HTTP middleware, the bus, the database session, drivers and the services' steps.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

KINDS = ("wsgi", "rpc", "db", "driver", "step")
# Kinds whose start is written too, so that a reader sees them while they run; the others
# (short, numerous) are written once, when they end.
SHOWN_RUNNING = frozenset({"wsgi", "step"})
HELD = 200  # spans an unsampled trace keeps in memory until it is sampled or dropped

Sink = Callable[[str, "Span"], None]  # ("start" | "end", span)
_CURRENT: ContextVar[Span | None] = ContextVar("overcast_trace_span", default=None)
_SINK: list[Sink] = []  # the recorder, when one is installed in this process
_LINK: list[Callable[[dict[str, Any]], None]] = []  # where links go (the recorder)
HOST = ["localhost"]  # this process's host name, set by the recorder


def new_trace_id() -> str:
    return f"{random.getrandbits(128):032x}"


def new_span_id() -> str:
    return f"{random.getrandbits(64):016x}"


class Trace:
    """One request's trace: its id, whether it is recorded, what it holds until it is."""

    __slots__ = ("_id", "sampled", "held", "count")

    def __init__(self, trace_id: str | None = None, sampled: bool = False) -> None:
        self._id = trace_id
        self.sampled = sampled
        self.held: list[Span] = []
        self.count = 0

    @property
    def trace_id(self) -> str:
        """Made when first needed: most requests are never recorded."""
        if self._id is None:
            self._id = new_trace_id()
        return self._id

    def sample(self) -> None:
        """Record this trace from now on, with what it held (idempotent)."""
        if self.sampled:
            return
        self.sampled = True
        held, self.held = self.held, []
        for span in held:
            if span.duration is not None:
                _emit("end", span)
            elif span.kind in SHOWN_RUNNING:
                _emit("start", span)


class Span:
    __slots__ = (
        "trace",
        "_id",
        "_parent_id",
        "name",
        "kind",
        "service",
        "host",
        "start",
        "duration",
        "info",
        "error",
        "up",
        "_token",
    )

    def __init__(
        self,
        trace: Trace,
        name: str,
        kind: str,
        parent_id: str | None,
        service: str,
        info: dict[str, Any],
        up: Span | None = None,
    ) -> None:
        self.trace = trace
        self._id: str | None = None
        self._parent_id = parent_id
        self.name = name
        self.kind = kind
        self.service = service
        self.host = HOST[0]
        self.start = time.time()
        self.duration: float | None = None
        self.info = info
        self.error: str | None = None
        self.up = up  # the enclosing span in this process
        self._token: Token[Span | None] | None = None
        trace.count += 1
        if trace.sampled:
            if kind in SHOWN_RUNNING:
                _emit("start", self)
        elif len(trace.held) < HELD:
            trace.held.append(self)

    @property
    def span_id(self) -> str:
        """Made when first needed (recorded, or handed to a child or another process)."""
        if self._id is None:
            self._id = new_span_id()
        return self._id

    @property
    def parent_id(self) -> str | None:
        """The enclosing span's id: in this process (`up`), or the caller's (a root's)."""
        return self.up.span_id if self.up is not None else self._parent_id

    def note(self, **info: Any) -> None:
        """Add to what the span says (filters that passed, the host chosen)."""
        self.info.update(info)

    def end(self, error: BaseException | str | None = None) -> None:
        """Finish the span (once); `error` marks it failed, with a reason people can act on."""
        if self.duration is not None:
            return
        self.duration = max(time.time() - self.start, 0.0)
        if error is not None:
            self.error = error if isinstance(error, str) else reason(error)
        if self.trace.sampled:
            _emit("end", self)

    def __enter__(self) -> Span:
        self._token = _CURRENT.set(self)
        return self

    def __exit__(self, _type: Any, exc: BaseException | None, _tb: Any) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)
            self._token = None
        self.end(exc if exc is not None and not isinstance(exc, GeneratorExit) else None)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(self, _type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(_type, exc, tb)


class _Nothing:
    """What `span()` returns outside a trace: every operation does nothing."""

    span_id = None
    trace = None

    def note(self, **info: Any) -> None:
        pass

    def end(self, error: BaseException | str | None = None) -> None:
        pass

    def __enter__(self) -> _Nothing:
        return self

    def __exit__(self, *_exc: Any) -> None:
        pass

    async def __aenter__(self) -> _Nothing:
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        pass


NOTHING = _Nothing()


class Detached:
    """A block that runs outside any trace (a bus message whose sender was not traced)."""

    def __init__(self) -> None:
        self._token: Token[Span | None] | None = None

    def __enter__(self) -> Detached:
        self._token = _CURRENT.set(None)
        return self

    def __exit__(self, *_exc: Any) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)


def reason(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc or type(exc).__name__)


def current() -> Span | None:
    return _CURRENT.get()


def span(name: str, kind: str = "step", **info: Any) -> Span | _Nothing:
    """A child of the current span (use `with`/`async with`, or `.end()`), or nothing outside
    a trace."""
    parent = _CURRENT.get()
    if parent is None or parent.trace.count >= _LIMIT[0]:
        return NOTHING
    child = Span(parent.trace, name, kind, None, parent.service, info, parent)
    return child


def event(name: str, error: str | None = None, **info: Any) -> None:
    """A step that takes no time (a state reached, an event received); failed with `error`."""
    found = span(name, "step", **info)
    found.end(error)


def note(**info: Any) -> None:
    """Add to what the current step says (a database transaction it runs in is skipped)."""
    found = _CURRENT.get()
    while found is not None and found.kind == "db" and found.up is not None:
        found = found.up
    if found is not None:
        found.info.update(info)


def root(
    name: str, kind: str, service: str, trace: Trace, parent_id: str | None = None, **info: Any
) -> Span:
    """The first span of this process in `trace` (a request served, a message handled)."""
    return Span(trace, name, kind, parent_id, service, info)


def sample() -> None:
    """Record the current trace (called when a request turns out to be a workflow), unless
    workflows are not traced (`settings.trace.enabled`)."""
    found = _CURRENT.get()
    if found is not None and _SINK and _WORKFLOWS[0]:
        found.trace.sample()


def link(
    resource_type: str,
    resource_id: str,
    action: str,
    request_id: str | None = None,
    project_id: str | None = None,
) -> None:
    """Record the current request as `action` on the resource: its trace is sampled (if
    workflows are traced) and found under the resource afterwards. Call inside the request."""
    sample()
    found = _CURRENT.get()
    if found is None or not found.trace.sampled or not _LINK:
        return
    _LINK[0](
        {
            "trace_id": found.trace.trace_id,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "request_id": request_id or "",
            "action": action,
            "project_id": project_id,
        }
    )


def configure(
    sink: Sink | None,
    host: str,
    max_spans: int,
    workflows: bool,
    linker: Callable[[dict[str, Any]], None] | None,
) -> None:
    """Install (or with None remove) this process's sink and linker; called by `recorder`."""
    _SINK.clear()
    _LINK.clear()
    if sink is not None:
        _SINK.append(sink)
    if linker is not None:
        _LINK.append(linker)
    HOST[0], _LIMIT[0], _WORKFLOWS[0] = host, max_spans, workflows


def _emit(phase: str, span: Span) -> None:
    for sink in _SINK:
        sink(phase, span)


_LIMIT = [2000]  # spans per trace and process (settings.trace.max_spans)
_WORKFLOWS = [True]  # whether workflows are traced without being asked
