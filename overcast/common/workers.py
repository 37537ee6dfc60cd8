"""Blocking calls awaited from an event loop, as the object store's local driver makes them:
`Threads`, a pool of worker threads (streams, scans), and `Processes`, single-threaded child
processes for calls made of many short system calls (see its docstring for why).

`Threads` is lighter than `loop.run_in_executor` on a `ThreadPoolExecutor`, which builds a
`concurrent.futures.Future` (a condition variable and its lock) per call, takes the pool's
semaphore and chains the result into an asyncio future through two callbacks: at the hundreds
of calls a second that small object writes make, that was a fifth of the event loop's time.
Here a call is one put on a `SimpleQueue` (C, lock-free for the caller) and its result comes
back with one `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import pickle
import queue
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")
_FRAME = struct.Struct(">I")  # as in `child_worker`
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class Threads:
    """Up to `limit` threads, started as calls find none idle; `close` ends them."""

    def __init__(self, limit: int, name: str) -> None:
        self.limit = limit
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._count = threading.Lock()  # guards _idle, changed by the threads
        self._closed = False

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """`fn(*args)` in a thread; its result (or exception) in the returned future, which
        belongs to the running loop. Cancelling the future does not stop the call."""
        if self._closed:
            raise RuntimeError(f"{self.name} threads are closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, fn, args))
        if self._idle == 0 and len(self._threads) < self.limit:
            thread = threading.Thread(
                target=self._work, name=f"{self.name}_{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return future

    def _work(self) -> None:
        while True:
            with self._count:
                self._idle += 1
            job = self._jobs.get()
            with self._count:
                self._idle -= 1
            if job is None:
                return
            loop, future, fn, args = job
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                _hand_back(loop, _fail, future, exc)
            else:
                _hand_back(loop, _succeed, future, result)
            del job, future, fn, args  # nothing of the call outlives it in this thread

    def close(self) -> None:
        """Let the threads end once the calls queued before have run (without waiting)."""
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)


def _hand_back(
    loop: asyncio.AbstractEventLoop,
    settle: Callable[[asyncio.Future[Any], Any], None],
    future: asyncio.Future[Any],
    value: Any,
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile: nobody waits
        loop.call_soon_threadsafe(settle, future, value)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class Processes:
    """Up to `limit` single-threaded child processes (`child_worker`) for blocking calls made
    mostly of system calls, such as writing a small file durably (write, fdatasync, rename,
    a directory's fsync).

    In a thread of a busy asyncio process every one of those calls gives the GIL away and then
    waits to take it back from the event loop: a small object write made dozens of such hand-overs
    per replica, and the futex waits and task switches cost more CPU than the writes. A child
    takes its own GIL, uncontended, and runs on another core. A call is one frame each way on
    a socket pair; children start on the first call that finds none idle, and one that dies is
    replaced by the next call that needs it. `fn` must be a module-level function (pickled by
    name); its arguments, result and exceptions are pickled.
    """

    def __init__(self, limit: int, name: str) -> None:
        self.limit = limit
        self.name = name
        self._idle: list[_Child] = []
        self._all: list[_Child] = []
        self._starting = 0  # children being started
        self._waiting: collections.deque[tuple[bytes, asyncio.Future[Any]]] = collections.deque()
        self._closed = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError(f"{self.name} processes are closed")
        frame = pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL)
        future: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
        if self._idle:
            self._idle.pop().send(frame, future)
        elif len(self._all) + self._starting < self.limit:
            (await self._start()).send(frame, future)
        else:
            self._waiting.append((frame, future))
        ok, value = await future
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    async def _start(self) -> _Child:
        self._starting += 1
        try:
            ours, theirs = socket.socketpair()
            with theirs:
                proc = await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "overcast.common.child_worker", str(theirs.fileno())),
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL,
                )
            child = _Child(self, proc)
            await asyncio.get_running_loop().connect_accepted_socket(lambda: child, ours)
        finally:
            self._starting -= 1
        if self._closed:  # closed while it started
            child.close()
            raise RuntimeError(f"{self.name} processes are closed")
        self._all.append(child)
        return child

    def _ready(self, child: _Child) -> None:
        """`child` answered: give it the next waiting call, or keep it idle."""
        while self._waiting:
            frame, future = self._waiting.popleft()
            if not future.cancelled():
                child.send(frame, future)
                return
        self._idle.append(child)

    def _lost(self, child: _Child) -> None:
        if child in self._all:
            self._all.remove(child)
        if child in self._idle:
            self._idle.remove(child)
        if self._waiting and not self._closed:
            asyncio.ensure_future(self._replace())

    async def _replace(self) -> None:
        self._ready(await self._start())

    async def close(self) -> None:
        """End the children (each finishes the call it is making first)."""
        self._closed = True
        children, self._all, self._idle = self._all, [], []
        for child in children:
            child.close()
        for child in children:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.proc.wait(), 5)


class _Child(asyncio.Protocol):
    """One child's end of the socket pair: at most one call in flight."""

    def __init__(self, pool: Processes, proc: asyncio.subprocess.Process) -> None:
        self.pool = pool
        self.proc = proc
        self.transport: asyncio.Transport | None = None
        self.pending: asyncio.Future[tuple[bool, Any]] | None = None
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def send(self, frame: bytes, future: asyncio.Future[tuple[bool, Any]]) -> None:
        assert self.transport is not None and self.pending is None
        self.pending = future
        self.transport.write(_FRAME.pack(len(frame)) + frame)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) < _FRAME.size:
            return
        (size,) = _FRAME.unpack_from(self.buffer)
        if len(self.buffer) < _FRAME.size + size:
            return
        answer = pickle.loads(self.buffer[_FRAME.size : _FRAME.size + size])
        del self.buffer[: _FRAME.size + size]
        future, self.pending = self.pending, None
        if future is not None and not future.done():
            future.set_result(answer)
        self.pool._ready(self)

    def connection_lost(self, exc: Exception | None) -> None:
        future, self.pending = self.pending, None
        if future is not None and not future.done():
            future.set_result((False, RuntimeError(f"a {self.pool.name} process ended")))
        self.pool._lost(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
