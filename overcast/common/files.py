"""Writing files whole: a temporary file beside the target, fsynced, then renamed over it;
and `WriteBehind`, for files that stream in before their final fsync."""

from __future__ import annotations

import ctypes
import hashlib
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

_SYNC_FILE_RANGE_WAIT_BEFORE, _SYNC_FILE_RANGE_WRITE, _SYNC_FILE_RANGE_WAIT_AFTER = 1, 2, 4


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named for this writer: processes writing one file at once never share a temporary.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def short_link(directory: Path, root: Path) -> Path:
    """A short path to `directory`: a symlink under `root` named by a digest of its path
    (`make_short_link` makes it). A unix socket's path must fit in 107 bytes, a data
    directory's may not."""
    return root / hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]


def make_short_link(directory: Path, root: Path) -> Path:
    link = short_link(directory, root)
    if link.is_symlink() and link.resolve() == directory.resolve():
        return link
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(directory.resolve())
    return link


def run_root(name: str) -> Path:
    """Where `short_link`s of a kind live: under /run when it is writable, else the temp dir."""
    return Path("/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()) / name


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's sync_file_range (Linux), or None where there is no such call."""
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    return call  # type: ignore[no-any-return, unused-ignore]


_SYNC_FILE_RANGE = _sync_file_range()


class WriteBehind:
    """Asks Linux to start writing back a file being written every `every` bytes, so that its
    final fsync has little left to wait for and the disk works while the data still streams
    in. With `drop`, the range started the time before (by then on disk) is also dropped from
    the page cache: a long write recycles a few MiB of cache instead of faulting in fresh pages
    for every byte (about 2 CPU-s/GiB of system time in a VM), and dirty pages never pile up.
    Where there is no sync_file_range it does nothing; the fsync does it all."""

    def __init__(self, every: int, drop: bool) -> None:
        self.every = every
        self.drop = drop
        self.size = 0
        self.flushed = 0  # bytes whose writeback has been started
        self.dropped = 0  # bytes written back and dropped from the page cache

    def wrote(self, fd: int, length: int) -> None:
        """`length` more bytes were written to `fd` (called in the writing thread)."""
        self.size += length
        sync = _SYNC_FILE_RANGE
        if sync is None or self.size - self.flushed < self.every:
            return
        sync(fd, self.flushed, self.size - self.flushed, _SYNC_FILE_RANGE_WRITE)
        if self.drop and self.flushed > self.dropped:  # started last time: wait, then drop
            length = self.flushed - self.dropped
            flags = _SYNC_FILE_RANGE_WAIT_BEFORE | _SYNC_FILE_RANGE_WRITE
            sync(fd, self.dropped, length, flags | _SYNC_FILE_RANGE_WAIT_AFTER)
            advise(fd, self.dropped, length, "POSIX_FADV_DONTNEED")
            self.dropped = self.flushed
        self.flushed = self.size


def advise(fd: int, offset: int, length: int, advice: str) -> None:
    """posix_fadvise where there is one (not on macOS); the kernel may ignore it anyway."""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, getattr(os, advice))
