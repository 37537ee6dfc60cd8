"""The online half of the ring: object path → partition → the devices that hold it, and the
handoff devices to use when one of those is down. Reloaded when its file changes (checked at
most once a second), so `overcast ring rebalance` takes effect without a restart.

Used by the proxy (where to write and read), the replicator (where a partition belongs) and
the updater.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Node:
    id: int
    region: int
    zone: int
    device: str
    host: str


class Ring:
    def __init__(self, path: Path, hash_prefix: bytes, hash_suffix: bytes) -> None:
        self.path = path
        self.prefix = hash_prefix
        self.suffix = hash_suffix
        self._mtime = 0.0
        self._checked = 0.0
        self._load()

    def _load(self) -> None:
        stat = os.stat(self.path)
        data = json.loads(gzip.decompress(self.path.read_bytes()))
        self.version: int = data["version"]
        self.part_power: int = data["part_power"]
        self.part_shift = 32 - self.part_power
        self.replicas: int = data["replicas"]
        self.nodes = {
            d["id"]: Node(d["id"], d["region"], d["zone"], d["device"], d["host"])
            for d in data["devices"]
        }
        self.table: list[list[int]] = data["replica2part2dev"]
        self._mtime = stat.st_mtime

    def _fresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        self._checked = now
        try:
            if os.stat(self.path).st_mtime != self._mtime:
                self._load()
        except FileNotFoundError:
            pass  # keep serving the ring we have

    @property
    def partitions(self) -> int:
        return 1 << self.part_power

    def hash_of(self, account: str, container: str | None = None, obj: str | None = None) -> str:
        """The md5 of the salted path, as hex: it names the object's directory on a device."""
        path = "/" + "/".join(p for p in (account, container, obj) if p is not None)
        return hashlib.md5(
            self.prefix + path.encode() + self.suffix, usedforsecurity=False
        ).hexdigest()

    def partition(self, name_hash: str) -> int:
        return int(struct.unpack_from(">I", bytes.fromhex(name_hash[:8]))[0] >> self.part_shift)

    def primaries(self, part: int) -> list[Node]:
        self._fresh()
        return [self.nodes[row[part]] for row in self.table]

    def handoffs(self, part: int) -> Iterator[Node]:
        """The other devices, in an order fixed per partition: unused zones first."""
        primaries = self.primaries(part)
        used = {(n.region, n.zone) for n in primaries}
        others = [n for n in self.nodes.values() if n not in primaries]
        others.sort(
            key=lambda n: (
                (n.region, n.zone) in used,
                hashlib.md5(f"{part}:{n.id}".encode(), usedforsecurity=False).digest(),
            )
        )
        yield from others

    def devices(self) -> list[Node]:
        self._fresh()
        return list(self.nodes.values())
