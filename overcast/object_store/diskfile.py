"""The on-disk format of one object on one device, as plain synchronous functions (the local
driver runs them in its threads and its file processes, so this module imports little).

    <device>/objects/<part>/<suffix>/<hash>/<timestamp>.data   content, then metadata
    <device>/objects/<part>/<suffix>/<hash>/<timestamp>.meta   metadata of a POST
    <device>/objects/<part>/<suffix>/<hash>/<timestamp>.ts     tombstone
    <device>/tmp/                                              files being written

Every file ends with its metadata: JSON, then a four-byte big-endian length and the magic
`OVO1`; the content (if any) is what comes before. One file per replica state, written to a
temporary file, fdatasynced and renamed, then its directory fsynced: a crash leaves the old
state or the new one, never half. Directories made on the way are not fsynced one by one:
the leaf directory's fsync commits the filesystem's journal up to that point, mkdirs
included, on the journalling filesystems devices are made of (ext4, XFS) — two syncs per
replica instead of up to four.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import json
import os
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAGIC = b"OVO1"
TRAILER = struct.Struct(">I4s")
MARKER = ".overcast-device"  # present on a device that is in service (Swift's mount check)
FATAL = {errno.EROFS, errno.EIO, errno.ENOSPC, errno.EDQUOT, errno.ENOENT, errno.ENOTDIR}


class Unavailable(Exception):
    """The device is missing, read-only or failing."""


def check_device(root: str) -> None:
    if not os.path.exists(os.path.join(root, MARKER)):
        raise Unavailable(f"device {root} is not in service")


def hash_dir(root: str, part: int, name_hash: str) -> str:
    return f"{root}/objects/{part}/{name_hash[-3:]}/{name_hash}"


def trailer(metadata: Mapping[str, object]) -> bytes:
    raw = json.dumps(metadata, separators=(",", ":")).encode()
    return raw + TRAILER.pack(len(raw), MAGIC)


@dataclass(frozen=True)
class Stored:
    """What a device holds for one object: its newest state."""

    timestamp: str  # of the data file or tombstone
    deleted: bool
    metadata: dict[str, str]  # the data file's, overlaid with the newest .meta
    size: int = 0  # content bytes
    body: bytes | None = None  # the whole content, when small enough to be read with metadata
    meta_timestamp: str | None = None

    @property
    def order(self) -> tuple[str, str]:
        """Newer states sort later: by the data file or tombstone, then by the metadata."""
        return self.timestamp, self.meta_timestamp or ""


@dataclass
class Parsed:
    metadata: dict[str, str]
    size: int  # content bytes
    body: bytes | None


def parse(fd: int, small: int) -> Parsed:
    """Read a file's metadata (and its content when at most `small` bytes)."""
    total = os.fstat(fd).st_size
    if total < TRAILER.size:
        raise ValueError("truncated")
    tail_len = min(total, max(small + 4096, 4096))
    tail = os.pread(fd, tail_len, total - tail_len)
    length, magic = TRAILER.unpack_from(tail, len(tail) - TRAILER.size)
    if magic != MAGIC or length + TRAILER.size > total:
        raise ValueError("bad trailer")
    size = total - TRAILER.size - length
    if length + TRAILER.size > len(tail):
        raw = os.pread(fd, length, size)
    else:
        raw = tail[len(tail) - TRAILER.size - length : len(tail) - TRAILER.size]
    metadata = json.loads(raw)
    body = None
    if size <= small:
        start = len(tail) - TRAILER.size - length - size
        body = tail[start : start + size] if start >= 0 else os.pread(fd, size, 0)
    return Parsed(metadata, size, body)


def split(raw: bytes) -> tuple[bytes, dict[str, Any]]:
    """(content, metadata) of a whole file held in memory."""
    if len(raw) < TRAILER.size:
        raise ValueError("truncated")
    length, magic = TRAILER.unpack_from(raw, len(raw) - TRAILER.size)
    if magic != MAGIC or length + TRAILER.size > len(raw):
        raise ValueError("bad trailer")
    size = len(raw) - TRAILER.size - length
    return raw[:size], json.loads(raw[size : len(raw) - TRAILER.size])


def newest(names: list[str]) -> tuple[str | None, str | None]:
    """(the newest .data or .ts file, the newest .meta newer than it)."""
    state = meta = None
    for name in sorted(names, reverse=True):
        if name.endswith((".data", ".ts")) and state is None:
            state = name
        elif name.endswith(".meta") and meta is None and state is None:
            meta = name
    return state, meta


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: str, root: str) -> bool:
    """Create `path` and its missing parents below `root` (made durable by the caller's fsync
    of `path`); never `root` itself, so a device taken away is not made again. True when this
    call made `path`."""
    try:
        os.mkdir(path)
        return True
    except FileExistsError:
        return False
    except FileNotFoundError:
        parent = os.path.dirname(path)
        if parent == root or len(parent) <= len(root):
            raise
        make_dirs(parent, root)
        try:
            os.mkdir(path)
            return True
        except FileExistsError:
            return False


def place(root: str, tmp_fd: int, tmp_path: str, target_dir: str, filename: str) -> None:
    """fsync a finished temporary file and rename it into `target_dir`; then drop the files
    it makes obsolete (none when this write made the directory: a concurrent older write
    that lands in it later is dropped by the next change, and never read, the newest file
    winning)."""
    os.fdatasync(tmp_fd)
    made = make_dirs(target_dir, root)
    os.rename(tmp_path, os.path.join(target_dir, filename))
    fsync_dir(target_dir)
    if not made:
        cleanup(target_dir)
    changed(target_dir)


def changed(directory: str) -> None:
    """Mark the partition of an object's directory as changed (its mtime), so that what was
    cached of its suffix hashes is computed again; other directories are left alone."""
    part_dir = os.path.dirname(os.path.dirname(directory))
    if os.path.basename(os.path.dirname(part_dir)) == "objects":
        with contextlib.suppress(FileNotFoundError):  # the partition was dropped meanwhile
            os.utime(part_dir)


def cleanup(directory: str) -> None:
    """Remove what a newer state file supersedes (older data, tombstones and metas)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    state, meta = newest(names)
    if state is None:
        return
    for name in names:
        if name == state or name == meta or name.endswith(".tmp"):
            continue
        if name < state or (name.endswith(".meta") and meta is not None):
            try:
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                pass


def write_whole(root: str, target_dir: str, filename: str, raw: bytes) -> None:
    fd, tmp = open_tmp(root)
    try:
        os.write(fd, raw)
        place(root, fd, tmp, target_dir, filename)
    except BaseException:
        _unlink(tmp)
        raise
    finally:
        os.close(fd)


def write_replicas(
    targets: list[tuple[str, int, str]], filename: str, raw: bytes
) -> list[OSError | Unavailable | None]:
    """`write_whole` of one file in the object directory of each (device root, partition,
    name hash), one after another; each failure in its place (None: written)."""
    outcomes: list[OSError | Unavailable | None] = []
    for root, part, name_hash in targets:
        try:
            write_whole(root, hash_dir(root, part, name_hash), filename, raw)
            outcomes.append(None)
        except (OSError, Unavailable) as exc:
            outcomes.append(exc)
    return outcomes


def newest_of(targets: list[tuple[str, int, str]], small: int) -> tuple[int, Stored] | None:
    """The newest state among replicas of one object on these devices (its index, the state);
    None when none of them has heard of it. The directories are listed to find it and only its
    files are read; a device that is down or unreadable, or a file whose metadata does not
    parse (the auditor quarantines it), is passed over for the next newest."""
    found: list[tuple[tuple[str, str], int, str, str | None, str]] = []
    for index, (root, part, name_hash) in enumerate(targets):
        try:
            check_device(root)
            directory = hash_dir(root, part, name_hash)
            state, meta = newest(listdir(directory))
        except (OSError, Unavailable):
            continue
        if state is not None:
            shown = meta.rsplit(".", 1)[0] if meta and state.endswith(".data") else ""
            key = (state.rsplit(".", 1)[0], shown)
            found.append((key, index, state, meta, directory))
    for _key, index, state, meta, directory in sorted(found, reverse=True):
        try:
            return index, _read_state(directory, state, meta, small)
        except (OSError, ValueError):
            continue
    return None


def head(root: str, part: int, name_hash: str, small: int) -> Stored | None:
    """The object's newest state on this device (None: never heard of); its content too
    when it has at most `small` bytes."""
    check_device(root)
    directory = hash_dir(root, part, name_hash)
    state, meta = newest(listdir(directory))
    if state is None:
        return None
    return _read_state(directory, state, meta, small)


def _read_state(directory: str, state: str, meta: str | None, small: int) -> Stored:
    timestamp = state.rsplit(".", 1)[0]
    if state.endswith(".ts"):
        return Stored(timestamp=timestamp, deleted=True, metadata={})
    fd = os.open(f"{directory}/{state}", os.O_RDONLY)
    try:
        parsed = parse(fd, small)
    finally:
        os.close(fd)
    metadata = parsed.metadata
    meta_ts = None
    if meta is not None:
        fd = os.open(f"{directory}/{meta}", os.O_RDONLY)
        try:
            update = parse(fd, 0).metadata
        finally:
            os.close(fd)
        metadata = overlay(metadata, update)
        meta_ts = meta.rsplit(".", 1)[0]
    return Stored(timestamp, False, metadata, parsed.size, parsed.body, meta_ts)


POSTABLE = (
    "x-object-meta-",
    "x-delete-at",
    "content-disposition",
    "content-encoding",
    "x-object-manifest",
)


def overlay(data: dict[str, str], post: dict[str, str]) -> dict[str, str]:
    """A POST replaces the user metadata and whatever else a POST may set; the rest stays."""
    kept = {k: v for k, v in data.items() if not k.lower().startswith(POSTABLE)}
    return {**kept, **post}


def partition_hashes(
    root: str, parts: list[int], known: dict[int, int]
) -> dict[int, tuple[int | None, dict[str, str] | None]]:
    """Each partition's (mtime, suffix hashes): the hashes None when the mtime is the one
    `known` gives (what the caller has is still right), the mtime None when the partition
    is not on this device. A suffix's hash covers the names of its objects' files."""
    check_device(root)
    out: dict[int, tuple[int | None, dict[str, str] | None]] = {}
    for part in parts:
        base = f"{root}/objects/{part}"
        try:
            mtime = os.stat(base).st_mtime_ns
        except FileNotFoundError:
            out[part] = (None, None)
            continue
        if known.get(part) == mtime:
            out[part] = (mtime, None)
            continue
        hashes = {}
        for suffix in listdir(base):
            digest = hashlib.md5(usedforsecurity=False)
            for name_hash in sorted(listdir(f"{base}/{suffix}")):
                for name in sorted(listdir(f"{base}/{suffix}/{name_hash}")):
                    if not name.endswith(".tmp"):
                        digest.update(f"{name_hash}/{name}".encode())
            hashes[suffix] = digest.hexdigest()
        out[part] = (mtime, hashes)
    return out


def listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


# Temporary names unique on the device: this process's id and a per-process count (no
# system call per name; `O_EXCL` would still refuse a name left by a process of the same id).
_TMP_COUNT = itertools.count()


def open_tmp(root: str) -> tuple[int, str]:
    check_device(root)
    tmp = f"{root}/tmp/{os.getpid()}-{next(_TMP_COUNT)}-{time.time_ns()}.tmp"
    return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), tmp


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def etag_of(path: str) -> tuple[str, str, int]:
    """(the md5 of the content, the ETag its metadata records, the content's size)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        parsed = parse(fd, 0)
        digest = hashlib.md5(usedforsecurity=False)
        offset = 0
        while offset < parsed.size:
            chunk = os.pread(fd, min(1 << 20, parsed.size - offset), offset)
            if not chunk:
                break
            digest.update(chunk)
            offset += len(chunk)
        return digest.hexdigest(), parsed.metadata.get("ETag", ""), parsed.size
    finally:
        os.close(fd)
