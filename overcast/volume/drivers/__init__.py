"""The volume driver contract, as Cinder's volume drivers have it: what a back end does with
volumes and snapshots, how a hypervisor reaches a volume, and what capacity it reports.

The volume agent calls a driver with plain records (`VolumeRef`, `SnapshotRef`), never with
database rows or HTTP requests, and hands it a narrow `Callbacks` object. Every method is
idempotent where the docstring says so, because the agent repeats operations that a crash
interrupted. `file` (qcow2/raw files through qemu-img) is the driver of this tree; LVM and Ceph
RBD fit the same contract (a block device or an `rbd` connection instead of a file), but this
machine's kernel has no device-mapper, so they are not written yet.
"""

from __future__ import annotations

import abc
import importlib
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from overcast.common import errors
from overcast.common.config import VolumeBackendSettings
from overcast.common.trace import instrument

GiB = 1 << 30


@dataclass(frozen=True)
class Capabilities:
    thin_provisioning: bool
    thick_provisioning: bool
    online_extend: bool  # extend while attached
    multiattach: bool
    storage_protocol: str  # what initialize_connection answers for a remote host


@dataclass(frozen=True)
class VolumeRef:
    id: str
    size: int  # GiB
    provider_location: str | None = None
    name_id: str | None = None  # the volume whose name the data has, when not `id`'s own

    @property
    def data_id(self) -> str:
        """The id the back end knows the data by (names, exports)."""
        return self.name_id or self.id

    @property
    def name(self) -> str:
        return f"volume-{self.data_id}"


@dataclass(frozen=True)
class SnapshotRef:
    id: str
    volume_id: str
    volume_size: int
    provider_location: str | None = None

    @property
    def name(self) -> str:
        return f"snapshot-{self.id}"


@dataclass(frozen=True)
class PoolStats:
    """One pool of a back end, as the scheduler filters and weighs it (sizes in GiB)."""

    pool_name: str
    total_capacity_gb: float
    free_capacity_gb: float
    provisioned_capacity_gb: float
    max_over_subscription_ratio: float
    reserved_percentage: int
    thin_provisioning_support: bool
    thick_provisioning_support: bool
    multiattach: bool
    storage_protocol: str
    extra: dict[str, Any] = field(default_factory=dict)


class Callbacks(Protocol):
    """What a driver may ask of the agent that runs it."""

    def node(self) -> str:
        """This node's name (connectors from another node get a network export)."""
        ...

    def state_dir(self) -> Path:
        """A directory the driver may keep its own records in (exports it serves)."""
        ...

    def export_address(self) -> str:
        """The address network exports (NBD) listen on."""
        ...


class VolumeDriver(instrument.TracedCalls, abc.ABC):
    capabilities: Capabilities

    def __init__(self, name: str, settings: VolumeBackendSettings, callbacks: Callbacks) -> None:
        self.name = name
        self.settings = settings
        self.callbacks = callbacks

    @abc.abstractmethod
    async def setup(self) -> None:
        """Check what the back end needs and make it ready; raise errors.ServiceUnavailable
        when it cannot work (the agent then reports no pools)."""

    @abc.abstractmethod
    async def create_volume(self, volume: VolumeRef) -> str:
        """Create an empty volume of `volume.size` GiB; return its provider location.
        Post: the volume exists whole or not at all. Idempotent."""

    @abc.abstractmethod
    async def delete_volume(self, volume: VolumeRef) -> None:
        """Remove the volume. Deleting an unknown volume succeeds."""

    @abc.abstractmethod
    async def extend_volume(self, volume: VolumeRef, new_size: int) -> bool:
        """Grow the volume to `new_size` GiB (pre: new_size > volume.size). Idempotent.
        False when the data is open in a hypervisor on this node that alone may grow it (a
        qcow2 image's metadata is its holder's): the hypervisor grows it when compute gets
        the `volume-extended` event, as Nova does for Cinder's NFS volumes."""

    @abc.abstractmethod
    async def create_snapshot(self, snapshot: SnapshotRef, volume: VolumeRef) -> str:
        """A point-in-time copy of `volume`; return its provider location. Idempotent."""

    @abc.abstractmethod
    async def delete_snapshot(self, snapshot: SnapshotRef) -> None:
        """Remove the snapshot. Deleting an unknown snapshot succeeds."""

    @abc.abstractmethod
    async def create_volume_from_snapshot(self, volume: VolumeRef, snapshot: SnapshotRef) -> str:
        """A new volume holding the snapshot's data, grown to `volume.size`."""

    @abc.abstractmethod
    async def revert_to_snapshot(self, volume: VolumeRef, snapshot: SnapshotRef) -> None:
        """Make the volume hold the snapshot's data again (its size stays `volume.size`).
        Post: the volume is whole, old or reverted, if interrupted. Idempotent."""

    @abc.abstractmethod
    async def create_cloned_volume(self, volume: VolumeRef, source: VolumeRef) -> str:
        """A new volume holding `source`'s data, grown to `volume.size`."""

    @abc.abstractmethod
    async def copy_image_to_volume(self, volume: VolumeRef, image: Path, image_format: str) -> None:
        """Write the image file `image` (in `image_format`) into the existing volume.
        Raise errors.BadRequest when the image is larger than the volume."""

    @abc.abstractmethod
    async def copy_volume_to_image(self, volume: VolumeRef, dest: Path, disk_format: str) -> None:
        """Write the volume's data to `dest` in `disk_format` (raw or qcow2)."""

    @abc.abstractmethod
    async def copy_volume_to(self, volume: VolumeRef, connection: dict[str, Any]) -> None:
        """Write the volume's whole data into the volume that `connection` (what another back
        end's `initialize_connection` answered: `local` or `nbd`) describes, which is at least
        as large. Used to migrate a volume between back ends. Idempotent."""

    @abc.abstractmethod
    def open_raw(self, volume: VolumeRef, write: bool = False) -> AbstractAsyncContextManager[Path]:
        """The volume's data as a raw, seekable file on this node, for backups; with `write`,
        what is written to the file is the volume's data when the context closes."""

    @abc.abstractmethod
    async def initialize_connection(
        self, volume: VolumeRef, connector: dict[str, Any]
    ) -> dict[str, Any]:
        """What the hypervisor on `connector["host"]` needs to attach: {"driver_volume_type",
        "data"}. Idempotent for the same connector."""

    @abc.abstractmethod
    async def terminate_connection(self, volume: VolumeRef, connector: dict[str, Any]) -> None:
        """Undo `initialize_connection` for `connector`. Unknown connections succeed."""

    @abc.abstractmethod
    async def get_stats(self) -> list[PoolStats]:
        """The back end's pools with their capacity and capabilities now."""

    async def manage_existing(
        self, volume: VolumeRef, reference: dict[str, Any]
    ) -> tuple[str, int]:
        """Adopt an existing back-end object as `volume`; (provider location, size in GiB)."""
        raise errors.NotSupported(f"the {self.name} back end cannot manage existing volumes")

    async def list_manageable(self) -> list[dict[str, Any]]:
        """Objects on the back end that no volume owns: [{"name", "size" (GiB)}]."""
        raise errors.NotSupported(f"the {self.name} back end cannot list manageable volumes")

    async def unmanage(self, volume: VolumeRef) -> None:
        """Forget the volume without deleting its data."""
        raise errors.NotSupported(f"the {self.name} back end cannot unmanage volumes")

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the driver holds (exports it serves). Default: nothing."""


def load(name: str, settings: VolumeBackendSettings, callbacks: Callbacks) -> VolumeDriver:
    """The driver `settings.driver` (a module of this package) for back end `name`."""
    try:
        module = importlib.import_module(f"{__name__}.{settings.driver}")
    except ModuleNotFoundError as exc:
        raise errors.ServiceUnavailable(f"unknown volume driver {settings.driver!r}") from exc
    driver: VolumeDriver = module.Driver(name, settings, callbacks)
    return driver
