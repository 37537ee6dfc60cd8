"""Where the object store keeps things in the data dir, and its first start: the device
directories, the ring builder and ring (three devices in three zones by default) and the
cluster's secret hash salt (Swift's `swift_hash_path_suffix`). Called by the service on start
and by `overcast ring`.

    DATA_DIR/object-store/object.builder      the builder (offline state)
    DATA_DIR/object-store/object.ring.json.gz  the ring the servers read
    DATA_DIR/object-store/hash_path_salt       never changes once written
    DATA_DIR/object-store/devices/<device>/    the devices of this node
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from overcast.common import files
from overcast.common.config import Settings
from overcast.object_store.drivers.local import init_device
from overcast.object_store.ring.builder import RingBuilder


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def of(cls, settings: Settings) -> Layout:
        return cls(settings.data_dir / "object-store")

    @property
    def builder(self) -> Path:
        return self.root / "object.builder"

    @property
    def ring(self) -> Path:
        return self.root / "object.ring.json.gz"

    @property
    def devices(self) -> Path:
        return self.root / "devices"

    def salt(self) -> bytes:
        path = self.root / "hash_path_salt"
        if not path.exists():
            files.atomic_write(path, secrets.token_hex(16).encode())
        return path.read_bytes().strip()


def ensure(settings: Settings) -> Layout:
    """Make the default devices and ring on first start; later starts change nothing."""
    layout = Layout.of(settings)
    layout.devices.mkdir(parents=True, exist_ok=True)
    layout.salt()
    cfg = settings.object_store
    if not layout.builder.exists():
        builder = RingBuilder(cfg.part_power, cfg.replicas, cfg.min_part_hours)
        for n in range(1, cfg.devices + 1):
            init_device(layout.devices / f"d{n}")
            builder.add_device(region=1, zone=n, weight=100.0, device=f"d{n}")
        builder.rebalance(seed=0)
        builder.save(layout.builder)
        builder.write_ring(layout.ring)
    return layout
