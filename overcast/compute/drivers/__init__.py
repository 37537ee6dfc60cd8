"""The compute driver contract (Nova's virt driver, in small): what a hypervisor must do for the
compute agent. `fake` implements it in memory; `qemu` runs real machines.

Drivers import neither HTTP nor database code: the agent hands them typed specs and local paths
(an image already downloaded, a place to write a snapshot) and they answer with plain values.
Every method is keyed by instance uuid and is idempotent where stated.
"""

from __future__ import annotations

import abc
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from overcast.common import errors
from overcast.common.config import Settings
from overcast.common.trace import instrument


@dataclass(frozen=True)
class Capabilities:
    """What a driver can do; the agent refuses the rest with errors.NotSupported."""

    needs_image_data: bool = False  # spawn wants the image's bytes in a local file
    supports_pause: bool = True
    supports_suspend: bool = True
    supports_rescue: bool = True
    supports_snapshot: bool = True
    supports_console_output: bool = True
    supports_live_migration: bool = True
    supports_shared_storage: bool = False  # evacuate may keep the disks


@dataclass(frozen=True)
class ConsoleTarget:
    """Where a console proxy connects to reach one guest console (Nova's ConsoleVNC and
    ConsoleSerial): a unix socket `path` on the compute host, or a TCP `host` and `port`."""

    host: str = ""
    port: int = 0
    path: str = ""


@dataclass(frozen=True)
class NodeResources:
    """One node's totals, as the agent reports them to the scheduler."""

    hypervisor_hostname: str
    vcpus: int
    memory_mb: int
    local_gb: int
    hypervisor_type: str = "fake"
    hypervisor_version: int = 1000
    host_ip: str | None = None
    cpu_info: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceSpec:
    """Everything a driver needs to build (or rebuild) one guest."""

    uuid: str
    name: str
    hostname: str
    flavor: dict[str, Any]
    image: dict[str, Any] = field(default_factory=dict)  # id, properties, disk_format...
    image_path: str | None = None  # the image's bytes, when needs_image_data
    kernel_path: str | None = None  # the image's kernel_id image, booted directly
    ramdisk_path: str | None = None  # its ramdisk_id image
    metadata: dict[str, str] = field(default_factory=dict)
    user_data: str | None = None
    key_data: str | None = None
    admin_password: str | None = None
    config_drive: bool = False
    network_info: list[dict[str, Any]] = field(default_factory=list)
    block_devices: list[dict[str, Any]] = field(default_factory=list)
    # The config drive's files (openstack/latest/meta_data.json, ...), made by the agent.
    metadata_files: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceInfo:
    power_state: int  # see compute.states (RUNNING, SHUTDOWN, PAUSED_POWER, ...)


@dataclass(frozen=True)
class SnapshotInfo:
    disk_format: str
    container_format: str = "bare"


class Callbacks(Protocol):
    """What a driver may tell its agent, unasked."""

    async def lifecycle_event(self, instance_uuid: str, power_state: int) -> None:
        """A guest changed power state by itself (it shut down, it crashed)."""
        ...


class Driver(instrument.TracedCalls, abc.ABC):
    """One hypervisor host. Construct with `(settings, callbacks)`, then `init_host`."""

    capabilities: Capabilities = Capabilities()

    def __init__(self, settings: Settings, callbacks: Callbacks) -> None:
        self.settings = settings
        self.callbacks = callbacks
        self.host = ""

    @abc.abstractmethod
    async def init_host(self, host: str) -> None:
        """Prepare to serve as `host`; find the guests that survived a restart."""

    async def cleanup_host(self) -> None:  # noqa: B027 - optional
        """Release what init_host took. Guests keep running."""

    @abc.abstractmethod
    async def get_available_resources(self) -> NodeResources:
        """The node's totals (used amounts are the scheduler's business)."""

    @abc.abstractmethod
    async def list_instances(self) -> list[str]:
        """Uuids of every guest this host has, running or not."""

    @abc.abstractmethod
    async def get_info(self, instance_uuid: str) -> InstanceInfo:
        """Power state of a guest. Raises errors.NotFound for an unknown guest."""

    @abc.abstractmethod
    async def spawn(self, instance: InstanceSpec) -> None:
        """Create and start the guest. Post: get_info says RUNNING.
        On failure nothing is left behind (the agent may reschedule elsewhere)."""

    @abc.abstractmethod
    async def destroy(self, instance_uuid: str, destroy_disks: bool = True) -> None:
        """Stop and remove the guest. Destroying an unknown guest succeeds."""

    @abc.abstractmethod
    async def reboot(self, instance_uuid: str, hard: bool) -> None:
        """Restart the guest; post: RUNNING."""

    @abc.abstractmethod
    async def power_off(self, instance_uuid: str, timeout: float = 0) -> None:
        """Shut the guest down (cleanly within `timeout`, then forcibly). Idempotent."""

    @abc.abstractmethod
    async def power_on(self, instance_uuid: str) -> None:
        """Start a stopped guest. Idempotent."""

    async def pause(self, instance_uuid: str) -> None:
        raise errors.NotSupported("pause is not supported by this driver")

    async def unpause(self, instance_uuid: str) -> None:
        raise errors.NotSupported("unpause is not supported by this driver")

    async def suspend(self, instance_uuid: str) -> None:
        raise errors.NotSupported("suspend is not supported by this driver")

    async def resume(self, instance_uuid: str) -> None:
        raise errors.NotSupported("resume is not supported by this driver")

    async def rescue(self, instance: InstanceSpec, rescue_image: dict[str, Any]) -> None:
        """Boot the guest from `rescue_image` with its own disk attached."""
        raise errors.NotSupported("rescue is not supported by this driver")

    async def unrescue(self, instance_uuid: str) -> None:
        raise errors.NotSupported("unrescue is not supported by this driver")

    async def trigger_crash_dump(self, instance_uuid: str) -> None:
        """Send the guest a non-maskable interrupt (it may dump its memory and reboot)."""
        raise errors.NotSupported("crash dumps are not supported by this driver")

    async def snapshot(self, instance_uuid: str, dest: Path) -> SnapshotInfo:
        """Write the guest's root disk to `dest` (the agent uploads it)."""
        raise errors.NotSupported("snapshot is not supported by this driver")

    async def get_console_output(self, instance_uuid: str) -> str:
        raise errors.NotSupported("console output is not supported by this driver")

    async def get_vnc_console(self, instance_uuid: str) -> ConsoleTarget:
        """Where the guest's VNC server listens (RFB, no authentication: the proxy in front
        checks the console token). Unknown guest: errors.NotFound."""
        raise errors.NotSupported("VNC consoles are not supported by this driver")

    async def get_serial_console(self, instance_uuid: str) -> ConsoleTarget:
        """Where the guest's first serial port can be read and written as a byte stream."""
        raise errors.NotSupported("serial consoles are not supported by this driver")

    async def prepare_migration(self, instance: InstanceSpec) -> dict[str, Any]:
        """Destination side of a cold migration from another host, first: get ready to take
        the guest's disks. What the source's `migrate_disk_and_power_off` needs (JSON)."""
        return {}

    async def migrate_disk_and_power_off(
        self, instance_uuid: str, dest_host: str, target: dict[str, Any] | None = None
    ) -> None:
        """Source side of a resize or cold migration: stop the guest, ready its disks (for
        another host: hand them to it, readied by its `prepare_migration`, `target`)."""
        await self.power_off(instance_uuid)

    async def finish_migration(self, instance: InstanceSpec, power_on: bool) -> None:
        """Destination side: build the guest from the migrated disks (a spawn here)."""
        await self.spawn(instance)
        if not power_on:
            await self.power_off(instance.uuid)

    async def confirm_migration(self, instance_uuid: str) -> None:  # noqa: B027 - optional
        """Source side of a confirmed resize: forget what was kept for a revert."""

    async def abandon_migration(self, instance: InstanceSpec, power_on: bool) -> None:  # noqa: B027
        """Agent start, for an instance at rest on this host that is not waiting for a resize
        to be confirmed: a resize or migration from here that a restart cut short (and the
        database rolled back) leaves no trace; the guest is as it was, running if `power_on`
        (a guest that a live migration brought here and nothing let run, too). Nothing to undo
        is fine."""

    async def finish_revert_migration(self, instance: InstanceSpec, power_on: bool) -> None:
        """Source side of a reverted resize: the guest as it was, with its old flavor."""
        try:
            await self.get_info(instance.uuid)
        except errors.NotFound:  # a same-host resize replaced the guest: build it again
            await self.finish_migration(instance, power_on=True)
        if power_on:
            await self.power_on(instance.uuid)
        else:
            await self.power_off(instance.uuid)

    async def get_diagnostics(self, instance_uuid: str) -> dict[str, Any]:
        """Counters of one guest (CPU time, memory, disk and NIC I/O), Nova's diagnostics."""
        raise errors.NotSupported("diagnostics are not supported by this driver")

    async def check_can_live_migrate_source(self, instance_uuid: str) -> dict[str, Any]:
        """Source side of a live migration, first: what the destination's
        `pre_live_migration` needs to know of the guest here (JSON; its device layout, say).
        Unknown guest: errors.NotFound."""
        await self.get_info(instance_uuid)
        return {}

    async def pre_live_migration(
        self, instance: InstanceSpec, source: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Destination side of a live migration: get ready to take the guest, its volumes
        through this host's connections (`instance.block_devices`: shared storage, not
        copied); `source` is the source's `check_can_live_migrate_source`. What the source's
        `live_migration` needs to send it here (JSON)."""
        return {}

    async def live_migration(
        self, instance_uuid: str, dest_host: str, target: dict[str, Any]
    ) -> dict[str, Any]:
        """Source side: hand the running guest to `dest_host`, readied by its
        `pre_live_migration` (`target`). After, the guest is the destination's and its copy
        here is left stopped: the caller records the switch-over, then ends it
        (`post_live_migration`; or, if the move was called off, `abandon_migration` runs it
        on here). On failure it runs on here. What the destination's
        `post_live_migration_at_destination` needs (JSON)."""
        raise errors.NotSupported("live migration is not supported by this driver")

    async def post_live_migration(self, instance_uuid: str) -> dict[str, Any]:
        """Source side, once the switch-over is recorded: the copy here ends for good (what
        is left of it goes with `destroy`). What the destination's
        `post_live_migration_at_destination` needs of it besides what `live_migration` gave
        (JSON). Called again, after a restart, it gives that again from what is left."""
        await self.destroy(instance_uuid)
        return {}

    async def post_live_migration_at_destination(
        self, instance: InstanceSpec, handover: dict[str, Any]
    ) -> None:
        """Destination side, last: adopt the guest that arrived, running. `handover` may be
        empty (its source restarted since); called again, nothing more happens."""
        raise errors.NotSupported("live migration is not supported by this driver")

    async def rollback_at_destination(self, instance_uuid: str) -> None:
        """Destination side of a move that failed before the guest came: drop what
        `pre_live_migration` or `prepare_migration` made. Nothing made is fine."""
        await self.destroy(instance_uuid)

    async def attach_volume(
        self, instance_uuid: str, connection_info: dict[str, Any], device: str
    ) -> None:
        """Give the guest the volume described by `connection_info` (the block storage
        driver's answer: a local path or an NBD export) as `device`."""
        raise errors.NotSupported("attaching volumes is not supported by this driver")

    async def detach_volume(self, instance_uuid: str, connection_info: dict[str, Any]) -> None:
        """Take the volume away from the guest. Detaching an unknown volume succeeds."""
        raise errors.NotSupported("detaching volumes is not supported by this driver")

    async def extend_volume(
        self, instance_uuid: str, connection_info: dict[str, Any], new_size: int
    ) -> None:
        """The attached volume grew to `new_size` bytes: make the running guest see it (a
        guest not running sees it when it starts). Where the hypervisor holds the data open,
        this is what grows it (pre: the volume service could not)."""
        raise errors.NotSupported("extending attached volumes is not supported by this driver")

    async def swap_volume(
        self,
        instance_uuid: str,
        old_connection_info: dict[str, Any],
        new_connection_info: dict[str, Any],
        device: str,
    ) -> None:
        """Move the guest's disk `device` from the old volume to the new one (at least as
        large) while the guest runs, as Nova's swap_volume: post: the new volume holds every
        byte the old one held and the guest's writes from now on; the guest keeps its device;
        the old volume is no longer open. On failure the guest still uses the old volume.
        A guest that is not running: errors.Conflict."""
        raise errors.NotSupported("swapping volumes is not supported by this driver")

    async def volume_snapshot_create(
        self, instance_uuid: str, connection_info: dict[str, Any], create_info: dict[str, Any]
    ) -> None:
        """Nova's assisted snapshot of an attached file-backed volume: the qcow2 file
        `create_info["new_file"]` (made by the volume service beside the volume's active
        file, which backs it) becomes the file the guest writes; the old one, now read-only,
        is the snapshot. On failure the guest still writes the old file."""
        raise errors.NotSupported("assisted volume snapshots are not supported by this driver")

    async def volume_snapshot_delete(
        self,
        instance_uuid: str,
        connection_info: dict[str, Any],
        snapshot_id: str,
        delete_info: dict[str, Any],
    ) -> None:
        """Undo one assisted snapshot: `delete_info["file_to_merge"]` merged into
        `merge_target_file` (a commit), or, with no target, into the file above it (a
        stream), while the guest keeps its data."""
        raise errors.NotSupported("assisted volume snapshots are not supported by this driver")

    async def attach_interface(self, instance_uuid: str, vif: dict[str, Any]) -> None:
        """Plug one more bound port (its network info, as `spawn` gets them) into the guest.
        Attaching a port the guest has already succeeds."""
        raise errors.NotSupported("interface attach is not supported by this driver")

    async def detach_interface(self, instance_uuid: str, port_id: str) -> None:
        """Unplug a port from the guest. Detaching a port it does not have succeeds."""
        raise errors.NotSupported("interface detach is not supported by this driver")


DRIVERS = {
    "fake": "overcast.compute.drivers.fake:FakeDriver",
    "qemu": "overcast.compute.drivers.qemu:QemuDriver",
}


def choose(settings: Settings) -> str:
    """The configured driver; `auto` is qemu when QEMU can run a guest here, else fake."""
    name = settings.compute.driver
    if name != "auto":
        return name
    from overcast.compute.drivers.qemu import hostinfo  # only when asked: it probes the host

    return "qemu" if hostinfo.qemu_usable(settings.compute.qemu.binary) else "fake"


def describe(settings: Settings) -> str:
    """What `choose` picks and why, for `overcast up` to say."""
    name = choose(settings)
    if name != "qemu":
        why = "as configured" if settings.compute.driver != "auto" else "QEMU cannot run here"
        return f"{name} ({why})"
    from overcast.compute.drivers.qemu import hostinfo

    binary, accel = settings.compute.qemu.binary, settings.compute.qemu.accel
    if accel == "auto":
        accel = "kvm" if hostinfo.kvm_works(binary) else "tcg"
    reason = "KVM works" if accel == "kvm" else "no working KVM: TCG emulation"
    return f"qemu ({reason}{'' if settings.compute.qemu.accel == 'auto' else ', as configured'})"


def resolve(settings: Settings) -> str:
    """Fix `settings.compute.driver` to what `choose` picks, so that every unit (and every
    process forked afterwards) agrees on it without probing again; `describe`'s sentence.
    `overcast up` and `overcast serve` call it before they build the cloud."""
    said = describe(settings)
    settings.compute.driver = choose(settings)
    return said


def load(settings: Settings, callbacks: Callbacks, name: str | None = None) -> Driver:
    """The driver named `name` (default: settings.compute.driver, `auto` resolved)."""
    name = name or choose(settings)
    try:
        module_name, _, cls_name = DRIVERS[name].partition(":")
    except KeyError as exc:
        raise errors.BadRequest(f"unknown compute driver {name!r}") from exc
    cls = getattr(importlib.import_module(module_name), cls_name)
    driver: Driver = cls(settings, callbacks)
    return driver
