"""The Fernet key repository under the data dir, rotated as Keystone's is.

Files are named by index: `0` is the staged key (next primary), the highest index is the
primary (encrypts), the rest are secondary (still decrypt). Rotation promotes the staged key,
stages a new one and drops the oldest beyond `max_active`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

from overcast.common.files import atomic_write


def _write_key(path: Path, key: bytes) -> None:
    atomic_write(path, key, 0o600)


class KeyRepository:
    def __init__(self, directory: Path, max_active: int = 3) -> None:
        self.directory = directory
        self.max_active = max_active

    def _indexes(self) -> list[int]:
        if not self.directory.exists():
            return []
        return sorted(int(p.name) for p in self.directory.iterdir() if p.name.isdigit())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One process at a time changes the keys (API workers start together)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.directory / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def ensure(self) -> None:
        """Create the repository with a staged and a primary key if it is empty."""
        with self._locked():
            self._ensure()

    def _ensure(self) -> None:
        if not self._indexes():
            _write_key(self.directory / "0", Fernet.generate_key())
            _write_key(self.directory / "1", Fernet.generate_key())

    def rotate(self) -> int:
        """Promote the staged key to primary; return the new primary's index."""
        with self._locked():
            return self._rotate()

    def _rotate(self) -> int:
        self._ensure()
        indexes = self._indexes()
        new_primary = indexes[-1] + 1
        os.replace(self.directory / "0", self.directory / str(new_primary))
        _write_key(self.directory / "0", Fernet.generate_key())
        keep = self._indexes()
        secondaries = [i for i in keep if i not in (0, new_primary)]
        excess = len(keep) - self.max_active
        for index in secondaries[: max(0, excess)]:
            (self.directory / str(index)).unlink()
        return new_primary

    def fernet(self) -> MultiFernet:
        """Primary first (it encrypts); every other key decrypts."""
        indexes = self._indexes()
        ordered = [indexes[-1], *reversed(indexes[:-1])]
        return MultiFernet([Fernet((self.directory / str(i)).read_bytes()) for i in ordered])

    def primary(self) -> bytes:
        """The key that encrypts."""
        return (self.directory / str(self._indexes()[-1])).read_bytes()

    def signature(self) -> tuple[tuple[int, float], ...]:
        """Changes whenever the keys on disk change, so callers know when to reload."""
        return tuple((i, (self.directory / str(i)).stat().st_mtime) for i in self._indexes())
