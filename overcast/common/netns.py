"""Work inside a named network namespace without moving the process: a function runs in a
thread of its own that has entered the namespace (setns changes only the calling thread),
so sockets and tap devices it opens belong there. Also the tap opener.

Called by the network service's linuxbridge driver (its namespaces) and compute's QEMU driver
(a guest's tap is opened inside the dataplane namespace and its fd handed to QEMU, so no tap
is ever made in the root namespace).
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import fcntl
import os
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

RUN_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_TUNSETIFF = 0x400454CA
_TUNSETPERSIST = 0x400454CB
_IFF_TAP = 0x0002
_IFF_NO_PI = 0x1000
_IFF_VNET_HDR = 0x4000

T = TypeVar("T")


def exists(name: str) -> bool:
    return (RUN_DIR / name).exists()


def _enter(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(RUN_DIR / name, os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def call_in(name: str, fn: Callable[[], T]) -> T:
    """`fn()` run in a new thread that has entered namespace `name` (blocking)."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            _enter(name)
            result.append(fn())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


async def run_in(name: str, fn: Callable[[], T]) -> T:
    """`call_in` without blocking the event loop."""
    return await asyncio.to_thread(call_in, name, fn)


def _tap(name: str, persist: bool) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    try:
        ifr = struct.pack("16sH22x", name.encode(), _IFF_TAP | _IFF_NO_PI | _IFF_VNET_HDR)
        fcntl.ioctl(fd, _TUNSETIFF, ifr)
        if persist:
            fcntl.ioctl(fd, _TUNSETPERSIST, 1)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_tap(namespace: str, name: str) -> int:
    """A queue fd of tap `name` inside `namespace` (made there if missing; gone when the last fd
    closes unless it was made persistent). Raises OSError if the namespace does not exist."""
    return call_in(namespace, lambda: _tap(name, persist=False))


def make_tap(namespace: str, name: str) -> None:
    """Make tap `name` inside `namespace`, persistent (it outlives every fd until deleted).
    A tap its user (QEMU) opened meanwhile answers EBUSY: it is there, which is all we need."""
    try:
        os.close(call_in(namespace, lambda: _tap(name, persist=True)))
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise
