"""Writing files whole: a temporary file beside the target, fsynced, then renamed over it."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
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
