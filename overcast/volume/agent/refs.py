"""Rows to the plain records drivers take (drivers never see the database)."""

from __future__ import annotations

from overcast.volume.drivers import SnapshotRef, VolumeRef
from overcast.volume.models.volumes import Snapshot, Volume


def volume(row: Volume, size: int | None = None) -> VolumeRef:
    return VolumeRef(
        row.id, size if size is not None else row.size, row.provider_location, row.name_id
    )


def snapshot(row: Snapshot) -> SnapshotRef:
    return SnapshotRef(row.id, row.volume_id, row.volume_size, row.provider_location)
