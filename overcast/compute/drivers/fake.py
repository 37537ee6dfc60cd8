"""The fake compute driver: guests that exist only as records, for tests and scale.

It keeps power state, a console log and rescue state per guest, saved (debounced) to
`DATA_DIR/compute/fake/<host>.json` so guests survive a restart as they would on a real host.
Tests steer it through the instance's metadata, flavor extra specs or image properties (which
the image service returns as top-level fields of the image, as Glance v2 does):

- `fake:fail_spawn`: `true` fails every spawn; a comma-separated list of hosts fails only there.
- `fake:spawn_delay`: seconds a spawn takes.
- `fake:fail_live_migration`: `true` fails a live migration once the destination is ready
  (as a QEMU that cannot send the guest: it runs on at the source).
- `fake:switch_over_hold`: seconds the source's copy of a live-migrated guest takes to end,
  once the switch-over is recorded (not again after a restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overcast.common import errors
from overcast.compute import drivers, states
from overcast.compute.drivers.qemu import build, disks

_TRUE = ("1", "true", "yes", "on")
_FLUSH_DELAY = 0.2


@dataclass
class _Guest:
    power_state: int
    name: str
    console: list[str] = field(default_factory=list)
    rescued: bool = False
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)  # device -> connection
    volume_sizes: dict[str, int] = field(default_factory=dict)  # device -> bytes, once extended

    ports: list[str] = field(default_factory=list)


class FakeDriver(drivers.Driver):
    capabilities = drivers.Capabilities(supports_shared_storage=True)

    def __init__(self, settings: Any, callbacks: drivers.Callbacks) -> None:
        super().__init__(settings, callbacks)
        self._guests: dict[str, _Guest] = {}
        self._holds: dict[str, float] = {}  # `fake:switch_over_hold`, by guest sent
        self._path: Path | None = None
        self._flush: asyncio.Task[None] | None = None

    async def init_host(self, host: str) -> None:
        self.host = host
        self._path = Path(self.settings.data_dir) / "compute" / "fake" / f"{host}.json"
        if self._path.exists():
            saved = json.loads(self._path.read_text())
            self._guests = {uuid: _Guest(**guest) for uuid, guest in saved.items()}

    async def cleanup_host(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush
        self._save()

    async def get_available_resources(self) -> drivers.NodeResources:
        compute = self.settings.compute
        return drivers.NodeResources(
            hypervisor_hostname=self.host,
            vcpus=compute.host_vcpus,
            memory_mb=compute.host_memory_mb,
            local_gb=compute.host_disk_gb,
            hypervisor_type="fake",
            host_ip=self.settings.my_ip,
            cpu_info={
                "arch": "x86_64",
                "model": "fake",
                "vendor": "overcast",
                "topology": {"cores": compute.host_vcpus, "threads": 1, "sockets": 1},
            },
            capabilities={"hypervisor_type": "fake", "cpu_arch": "x86_64"},
        )

    async def list_instances(self) -> list[str]:
        return list(self._guests)

    async def get_info(self, instance_uuid: str) -> drivers.InstanceInfo:
        return drivers.InstanceInfo(self._get(instance_uuid).power_state)

    async def spawn(self, instance: drivers.InstanceSpec) -> None:
        knobs = _knobs(instance)
        delay = float(knobs.get("fake:spawn_delay", 0) or 0)
        if delay:
            await asyncio.sleep(delay)
        fail = str(knobs.get("fake:fail_spawn", "")).strip()
        if fail.lower() in _TRUE or self.host in {h.strip() for h in fail.split(",") if h}:
            raise errors.ServiceUnavailable(f"fake driver was told to fail spawning on {self.host}")
        self._guests[instance.uuid] = _Guest(
            states.RUNNING,
            instance.name,
            volumes=_volumes(instance),
        )
        # A boot log as a small guest writes one, so console readers see several lines.
        vcpus, ram = instance.flavor.get("vcpus", 1), instance.flavor.get("memory_mb", 0)
        for line in (
            f"[    0.000000] Linux version fake (overcast) on {self.host}",
            f"[    0.000000] Memory: {ram} MiB, {vcpus} CPUs",
            "[    0.420000] Run /sbin/init as init process",
            f"Starting {instance.hostname}: network, sshd ... OK",
            f"{instance.hostname} login: booted on {self.host}",
        ):
            self._log(instance.uuid, line)

    async def destroy(self, instance_uuid: str, destroy_disks: bool = True) -> None:
        if self._guests.pop(instance_uuid, None) is not None:
            self._changed()

    async def reboot(self, instance_uuid: str, hard: bool) -> None:
        guest = self._get(instance_uuid)
        guest.power_state = states.RUNNING
        self._log(instance_uuid, f"{'hard' if hard else 'soft'} reboot")

    async def power_off(self, instance_uuid: str, timeout: float = 0) -> None:
        self._set(instance_uuid, states.SHUTDOWN, "power off")

    async def power_on(self, instance_uuid: str) -> None:
        self._set(instance_uuid, states.RUNNING, "power on")

    async def pause(self, instance_uuid: str) -> None:
        self._set(instance_uuid, states.PAUSED_POWER, "paused")

    async def unpause(self, instance_uuid: str) -> None:
        self._set(instance_uuid, states.RUNNING, "unpaused")

    async def suspend(self, instance_uuid: str) -> None:
        self._set(instance_uuid, states.SUSPENDED_POWER, "suspended")

    async def resume(self, instance_uuid: str) -> None:
        self._set(instance_uuid, states.RUNNING, "resumed")

    async def rescue(self, instance: drivers.InstanceSpec, rescue_image: dict[str, Any]) -> None:
        guest = self._get(instance.uuid)
        guest.rescued = True
        self._set(instance.uuid, states.RUNNING, f"rescue from image {rescue_image.get('id')}")

    async def unrescue(self, instance_uuid: str) -> None:
        self._get(instance_uuid).rescued = False
        self._set(instance_uuid, states.RUNNING, "unrescued")

    async def trigger_crash_dump(self, instance_uuid: str) -> None:
        self._set(instance_uuid, states.RUNNING, "NMI received: kernel crash dump written")

    async def snapshot(self, instance_uuid: str, dest: Path) -> drivers.SnapshotInfo:
        guest = self._get(instance_uuid)
        await asyncio.to_thread(dest.write_bytes, f"fake disk of {guest.name}\n".encode())
        return drivers.SnapshotInfo(disk_format="raw")

    async def get_console_output(self, instance_uuid: str) -> str:
        return "".join(line + "\n" for line in self._get(instance_uuid).console)

    # As Nova's fake driver: an address that answers nothing (the proxy's connect fails).
    async def get_vnc_console(self, instance_uuid: str) -> drivers.ConsoleTarget:
        self._get(instance_uuid)
        return drivers.ConsoleTarget(host="fakevncconsole.invalid", port=6969)

    async def get_serial_console(self, instance_uuid: str) -> drivers.ConsoleTarget:
        self._get(instance_uuid)
        return drivers.ConsoleTarget(host="fakeserialconsole.invalid", port=6969)

    async def get_diagnostics(self, instance_uuid: str) -> dict[str, Any]:
        guest = self._get(instance_uuid)
        return {
            "state": states.POWER_NAMES.get(guest.power_state, "pending").lower(),
            # Nova's API names a few drivers only; its own fake driver says libvirt too.
            "driver": "libvirt",
            "hypervisor": "fake",
            "hypervisor_os": "fake-os",
            "uptime": 0,
            "config_drive": False,
            "num_cpus": 1,
            "num_nics": 0,
            "num_disks": 1,
            "cpu_details": [{"id": 0, "time": 0, "utilisation": None}],
            "nic_details": [],
            "disk_details": [],
            "memory_details": {"maximum": 0, "used": 0},
        }

    async def pre_live_migration(
        self, instance: drivers.InstanceSpec, source: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        knobs = _knobs(instance)
        fail = str(knobs.get("fake:fail_live_migration", "")).lower() in _TRUE
        hold = float(knobs.get("fake:switch_over_hold", 0) or 0)
        return {"volumes": _volumes(instance), "fail": fail, "hold": hold}

    async def live_migration(
        self, instance_uuid: str, dest_host: str, target: dict[str, Any]
    ) -> dict[str, Any]:
        self._get(instance_uuid)
        if target.get("fail"):
            raise errors.OvercastError(f"fake driver was told to fail sending {instance_uuid}")
        self._set(instance_uuid, states.PAUSED_POWER, f"sent to {dest_host} by live migration")
        self._holds[instance_uuid] = float(target.get("hold") or 0)
        return {"volumes": target.get("volumes") or {}}

    async def post_live_migration(self, instance_uuid: str) -> dict[str, Any]:
        await asyncio.sleep(self._holds.pop(instance_uuid, 0))
        await self.destroy(instance_uuid)
        return {}

    async def post_live_migration_at_destination(
        self, instance: drivers.InstanceSpec, handover: dict[str, Any]
    ) -> None:
        volumes = dict(handover.get("volumes") or {})
        self._guests[instance.uuid] = _Guest(states.RUNNING, instance.name, volumes=volumes)
        self._log(instance.uuid, f"arrived on {self.host} by live migration")

    async def attach_volume(
        self, instance_uuid: str, connection_info: dict[str, Any], device: str
    ) -> None:
        guest = self._get(instance_uuid)
        if guest.volumes.get(device) != connection_info:
            guest.volumes[device] = connection_info
            self._log(instance_uuid, f"volume attached as {device}")

    async def detach_volume(self, instance_uuid: str, connection_info: dict[str, Any]) -> None:
        guest = self._guests.get(instance_uuid)
        if guest is None:
            return
        for device, info in list(guest.volumes.items()):
            if info.get("data", {}).get("volume_id") == connection_info.get("data", {}).get(
                "volume_id"
            ):
                del guest.volumes[device]
                guest.volume_sizes.pop(device, None)
                self._log(instance_uuid, f"volume detached from {device}")

    async def extend_volume(
        self, instance_uuid: str, connection_info: dict[str, Any], new_size: int
    ) -> None:
        guest = self._get(instance_uuid)
        volume_id = (connection_info.get("data") or {}).get("volume_id")
        device = next((d for d, info in guest.volumes.items()
                       if (info.get("data") or {}).get("volume_id") == volume_id), None)  # fmt: skip
        if device is None:
            raise errors.NotFound(f"Volume {volume_id} is not attached to {instance_uuid}.")
        try:
            disk = build.volume_disk(connection_info)
        except errors.NotSupported:  # a volume only a real hypervisor reaches: recorded
            pass
        else:
            await _grow_held(disk.path, disk.format, new_size)
        guest.volume_sizes[device] = new_size
        self._log(instance_uuid, f"volume on {device} grew to {new_size} bytes")

    async def swap_volume(
        self,
        instance_uuid: str,
        old_connection_info: dict[str, Any],
        new_connection_info: dict[str, Any],
        device: str,
    ) -> None:
        """The data moves as a hypervisor would move it, when both volumes are reachable
        here (files or NBD exports); the guest's record then names the new volume."""
        guest = self._get(instance_uuid)
        if guest.power_state not in (states.RUNNING, states.PAUSED_POWER):
            raise errors.Conflict(f"Instance {instance_uuid} is not running.")
        if device not in guest.volumes:
            raise errors.NotFound(f"No volume is attached to {instance_uuid} as {device}.")
        try:
            old = build.volume_disk(old_connection_info)
            new = build.volume_disk(new_connection_info)
        except errors.NotSupported:  # a volume only a real hypervisor reaches: recorded
            pass
        else:
            await disks.copy_into(old.path, old.format, new.path, new.format)
        guest.volumes[device] = new_connection_info
        self._log(instance_uuid, f"volume on {device} swapped")

    # -- test hooks -------------------------------------------------------------------------

    async def crash(self, instance_uuid: str) -> None:
        """Make a guest stop by itself and tell the agent, as a real hypervisor would."""
        self._set(instance_uuid, states.SHUTDOWN, "guest stopped by itself")
        await self.callbacks.lifecycle_event(instance_uuid, states.SHUTDOWN)

    # -- internals --------------------------------------------------------------------------

    async def attach_interface(self, instance_uuid: str, vif: dict[str, Any]) -> None:
        guest = self._get(instance_uuid)
        if vif["port_id"] not in guest.ports:
            guest.ports.append(vif["port_id"])
            self._log(instance_uuid, f"attached interface {vif.get('devname')}")

    async def detach_interface(self, instance_uuid: str, port_id: str) -> None:
        guest = self._guests.get(instance_uuid)
        if guest is not None and port_id in guest.ports:
            guest.ports.remove(port_id)
            self._log(instance_uuid, f"detached interface of port {port_id}")

    def _get(self, instance_uuid: str) -> _Guest:
        guest = self._guests.get(instance_uuid)
        if guest is None:
            raise errors.NotFound(f"Instance {instance_uuid} could not be found on {self.host}.")
        return guest

    def _set(self, instance_uuid: str, power_state: int, line: str) -> None:
        self._get(instance_uuid).power_state = power_state
        self._log(instance_uuid, line)

    def _log(self, instance_uuid: str, line: str) -> None:
        guest = self._guests[instance_uuid]
        guest.console.append(line)
        del guest.console[:-200]
        self._changed()

    def _changed(self) -> None:
        if self._path is None or (self._flush is not None and not self._flush.done()):
            return
        self._flush = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(_FLUSH_DELAY)
        self._save()

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        data = {u: g.__dict__ for u, g in self._guests.items()}
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self._path)


async def _grow_held(path: str, fmt: str, size: int) -> None:
    """What QEMU's `block_resize` does to a volume it holds and the volume service could not
    grow: a file grows; a disk reached over NBD cannot (QEMU's NBD client cannot grow one)."""
    for attempt in range(10):  # an NBD export is away for a moment while its volume grows
        try:
            found = await disks.qemu_img("info", "-U", "--output", "json", "-f", fmt, path)
            break
        except errors.OvercastError:
            if attempt == 9:
                raise
            await asyncio.sleep(0.2)
    info = json.loads(found)
    if int(info["virtual-size"]) >= size:
        return
    if path.startswith("nbd://"):
        raise errors.Conflict(f"Cannot grow NBD nodes: {path} is {info['virtual-size']} bytes.")
    await disks.qemu_img("resize", "-q", "-f", fmt, path, str(size))


def _knobs(instance: drivers.InstanceSpec) -> dict[str, Any]:
    """The `fake:` settings of an instance: its image's, its flavor's, its metadata's."""
    return {
        **{k: v for k, v in instance.image.items() if k.startswith("fake:")},
        **instance.flavor.get("extra_specs", {}),
        **instance.metadata,
    }


def _volumes(instance: drivers.InstanceSpec) -> dict[str, dict[str, Any]]:
    """The guest's volumes (device -> connection info) from its block devices."""
    return {
        str(b.get("device_name")): b.get("connection_info") or {} for b in instance.block_devices
    }
