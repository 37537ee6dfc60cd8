"""`Threads`: a pool of worker threads for short blocking calls (file system work) awaited from
an event loop. Used by the object store's local driver.

Lighter than `loop.run_in_executor` on a `ThreadPoolExecutor`, which builds a
`concurrent.futures.Future` (a condition variable and its lock) per call, takes the pool's
semaphore and chains the result into an asyncio future through two callbacks: at the hundreds
of calls a second that small object writes make, that was a fifth of the event loop's time.
Here a call is one put on a `SimpleQueue` (C, lock-free for the caller) and its result comes
back with one `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
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
