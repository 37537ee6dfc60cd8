"""The offline half of the ring: devices (region, zone, weight), the partition power, the
replica count and `min_part_hours`, and a rebalance that moves as few partition replicas as it
can while spreading each partition's replicas over regions, then zones, then devices.

Driven by `overcast ring` and by the object store's first start (three devices, three zones).
The builder keeps its state in `<name>.builder` (JSON) and writes the ring that the online
half reads to `<name>.ring.json.gz`; both are written whole (temporary file, fsync, rename).
"""

from __future__ import annotations

import gzip
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from overcast.common import errors, files

NONE = -1  # an unassigned replica slot


@dataclass
class Device:
    id: int
    region: int
    zone: int
    weight: float
    device: str  # the directory name under the node's devices root
    host: str = "local"  # "local" (this process) or an object server's URL

    @property
    def tiers(self) -> tuple[tuple[int], tuple[int, int], tuple[int, int, int]]:
        return (self.region,), (self.region, self.zone), (self.region, self.zone, self.id)


@dataclass
class RingBuilder:
    part_power: int
    replicas: int
    min_part_hours: int
    devices: list[Device] = field(default_factory=list)
    # replica2part2dev[r][p]: the device id holding replica r of partition p (NONE: none yet)
    replica2part2dev: list[list[int]] = field(default_factory=list)
    last_part_moves: list[int] = field(default_factory=list)  # hour of each partition's last move
    version: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.part_power <= 24:
            raise errors.BadRequest("part_power must be between 1 and 24")
        if self.replicas < 1:
            raise errors.BadRequest("replicas must be at least 1")
        if self.min_part_hours < 0:
            raise errors.BadRequest("min_part_hours must not be negative")

    @property
    def parts(self) -> int:
        return 1 << self.part_power

    # -- devices -----------------------------------------------------------------------------

    def add_device(
        self, *, region: int, zone: int, weight: float, device: str, host: str = "local"
    ) -> Device:
        if weight < 0:
            raise errors.BadRequest("a weight may not be negative")
        if any(d.device == device and d.host == host for d in self.devices):
            raise errors.Conflict(f"device {device} on {host} is already in the ring")
        dev = Device(
            id=max((d.id for d in self.devices), default=-1) + 1,
            region=region,
            zone=zone,
            weight=float(weight),
            device=device,
            host=host,
        )
        self.devices.append(dev)
        return dev

    def device(self, dev_id: int) -> Device:
        for dev in self.devices:
            if dev.id == dev_id:
                return dev
        raise errors.NotFound(f"no device {dev_id} in the ring")

    def set_weight(self, dev_id: int, weight: float) -> None:
        if weight < 0:
            raise errors.BadRequest("a weight may not be negative")
        self.device(dev_id).weight = float(weight)

    def remove_device(self, dev_id: int) -> None:
        """Take a device out; its partitions move at the next rebalance."""
        self.devices.remove(self.device(dev_id))

    # -- rebalance ---------------------------------------------------------------------------

    def rebalance(self, seed: int | None = None, now_hours: int | None = None) -> int:
        """Assign every replica of every partition; the number of replicas moved."""
        active = {d.id: d for d in self.devices if d.weight > 0}
        if len(active) < self.replicas:
            raise errors.BadRequest(
                f"{self.replicas} replicas need at least {self.replicas} devices with weight"
            )
        rng = random.Random(seed)
        now = int(time.time() // 3600) if now_hours is None else now_hours
        self._resize()
        counts = {dev_id: 0 for dev_id in active}
        want = self._desired(active)
        gathered: list[tuple[int, int]] = []  # (replica, part) to place
        for r, row in enumerate(self.replica2part2dev):
            for part, dev_id in enumerate(row):
                if dev_id in counts:
                    counts[dev_id] += 1
                else:
                    row[part] = NONE
                    gathered.append((r, part))
        moved_now = {part for _r, part in gathered}

        def movable(part: int) -> bool:
            return part not in moved_now and now - self.last_part_moves[part] >= self.min_part_hours

        gathered += self._gather_undispersed(active, counts, movable, moved_now)
        gathered += self._gather_overweight(active, counts, want, movable, moved_now, rng)
        rng.shuffle(gathered)
        for r, part in gathered:
            dev_id = self._place(part, active, counts, want)
            self.replica2part2dev[r][part] = dev_id
            counts[dev_id] += 1
            self.last_part_moves[part] = now
        self.version += 1
        return len(gathered)

    def _resize(self) -> None:
        """Grow or shrink the table to `replicas` rows of `parts` slots."""
        while len(self.replica2part2dev) < self.replicas:
            self.replica2part2dev.append([NONE] * self.parts)
        del self.replica2part2dev[self.replicas :]
        if len(self.last_part_moves) != self.parts:
            self.last_part_moves = [-(10**6)] * self.parts

    def _desired(self, active: dict[int, Device]) -> dict[int, float]:
        total = sum(d.weight for d in active.values())
        slots = self.parts * self.replicas
        return {dev_id: slots * d.weight / total for dev_id, d in active.items()}

    def _holders(self, part: int) -> list[Device]:
        found = []
        for row in self.replica2part2dev:
            if row[part] != NONE:
                found.append(self.device(row[part]))
        return found

    def _gather_undispersed(
        self, active: dict[int, Device], counts: dict[int, int], movable: Any, moved: set[int]
    ) -> list[tuple[int, int]]:
        """Replicas that share a zone with another replica of their partition while a zone
        holds none (one per partition per rebalance)."""
        zones = {d.tiers[1] for d in active.values()}
        out = []
        for part in range(self.parts):
            if not movable(part):
                continue
            seen: set[tuple[int, int]] = set()
            used = {
                active[row[part]].tiers[1] for row in self.replica2part2dev if row[part] != NONE
            }
            if len(used) >= min(len(zones), self.replicas):
                continue
            for r, row in enumerate(self.replica2part2dev):
                dev_id = row[part]
                if dev_id == NONE:
                    continue
                zone = active[dev_id].tiers[1]
                if zone in seen:
                    row[part] = NONE
                    counts[dev_id] -= 1
                    out.append((r, part))
                    moved.add(part)
                    break
                seen.add(zone)
        return out

    def _gather_overweight(
        self,
        active: dict[int, Device],
        counts: dict[int, int],
        want: dict[int, float],
        movable: Any,
        moved: set[int],
        rng: random.Random,
    ) -> list[tuple[int, int]]:
        """Replicas from devices holding more than their share, until each holds at most its
        share rounded up (partitions moved within `min_part_hours` stay)."""
        out = []
        for dev_id in active:
            excess = counts[dev_id] - math.ceil(want[dev_id])
            if excess <= 0:
                continue
            slots = [
                (r, part)
                for r, row in enumerate(self.replica2part2dev)
                for part, holder in enumerate(row)
                if holder == dev_id
            ]
            rng.shuffle(slots)
            for r, part in slots:
                if excess <= 0:
                    break
                if movable(part):
                    self.replica2part2dev[r][part] = NONE
                    counts[dev_id] -= 1
                    out.append((r, part))
                    moved.add(part)
                    excess -= 1
        return out

    def _place(
        self, part: int, active: dict[int, Device], counts: dict[int, int], want: dict[int, float]
    ) -> int:
        """The device for a replica of `part`: unused regions first, then unused zones, then
        the device that most wants partitions."""
        holders = self._holders(part)
        regions = {d.tiers[0] for d in holders}
        zones = {d.tiers[1] for d in holders}
        held = {d.id for d in holders}

        def score(dev: Device) -> tuple[bool, bool, float]:
            return (
                dev.tiers[0] not in regions,
                dev.tiers[1] not in zones,
                (want[dev.id] - counts[dev.id]) / max(want[dev.id], 1e-9),
            )

        candidates = [d for d in active.values() if d.id not in held]
        return max(candidates, key=score).id

    # -- files -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RingBuilder:
        devices = [Device(**d) for d in data.pop("devices")]
        return cls(devices=devices, **data)

    def save(self, path: Path) -> None:
        files.atomic_write(path, json.dumps(self.to_dict()).encode(), mode=0o644)

    @classmethod
    def load(cls, path: Path) -> RingBuilder:
        return cls.from_dict(json.loads(path.read_bytes()))

    def write_ring(self, path: Path) -> None:
        """The online ring: devices and the assignment table, no builder state."""
        if any(NONE in row for row in self.replica2part2dev) or not self.replica2part2dev:
            raise errors.Conflict("the ring is not balanced yet: rebalance first")
        ring = {
            "version": self.version,
            "part_power": self.part_power,
            "replicas": self.replicas,
            "devices": [asdict(d) for d in self.devices],
            "replica2part2dev": self.replica2part2dev,
        }
        files.atomic_write(path, gzip.compress(json.dumps(ring).encode(), mtime=0), mode=0o644)

    def balance(self) -> float:
        """The worst device's departure from its share, in percent (0 is perfect)."""
        active = {d.id: d for d in self.devices if d.weight > 0}
        if not active or not self.replica2part2dev:
            return 0.0
        want = self._desired(active)
        counts = dict.fromkeys(active, 0)
        for row in self.replica2part2dev:
            for dev_id in row:
                if dev_id in counts:
                    counts[dev_id] += 1
        return max(abs(counts[i] - want[i]) * 100 / want[i] for i in active)
