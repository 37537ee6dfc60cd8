"""The qemu driver's moves between hosts: resize and cold migration (both halves, the backup
a revert restores, a move cut short by a restart) and live migration (both halves; the QMP
steps are in `live`). Volumes are shared storage: a live migration copies only the guest's
own disks; each host reaches the volumes through its own connections (the agent's).

`driver.QemuDriver` delegates to `Moves`, handing it itself as the narrow `Guests` it needs;
nothing here imports the driver.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from overcast.common import log
from overcast.common.config import QemuSettings, Settings
from overcast.compute import drivers
from overcast.compute.drivers.qemu import build, disks, live
from overcast.compute.drivers.qemu.files import HostFiles, append, tail
from overcast.compute.drivers.qemu.guest import Guest
from overcast.compute.drivers.qemu.launch import Disk, Launch, Nic

LOG = log.get(__name__)


class Guests(Protocol):
    """What the moves use of the driver: its host's files and settings, and its guests."""

    settings: Settings
    conf: QemuSettings
    files: HostFiles
    host: str
    user: str | None
    vnc_listen: str | None

    def guest(self, uuid: str) -> Guest: ...

    def acting(self, uuid: str, known: bool = True) -> AbstractAsyncContextManager[Guest]: ...

    async def create(
        self, instance: drivers.InstanceSpec, guest: Guest, incoming: bool = False,
        layout: dict[str, Any] | None = None,
    ) -> None: ...  # fmt: skip

    async def forget(self, guest: Guest) -> None: ...

    def drop(self, uuid: str) -> None: ...

    async def reboot(self, instance_uuid: str, hard: bool) -> None: ...

    async def power_off(self, instance_uuid: str, timeout: float = 0) -> None: ...


def layout(launch: Launch) -> dict[str, Any]:
    """Where the guest's devices sit (hot-plug root port, device id), by disk node and by
    NIC port: a live migration's destination places them the same (QEMU moves device state
    by its place in the PCI tree)."""
    return {
        "disks": {d.node: {"port": d.port, "device": d.device} for d in launch.disks if d.node},
        "nics": {n.port_id: {"port": n.port, "id": n.id} for n in launch.nics if n.port_id},
    }


def placed(launch: Launch, where: dict[str, Any]) -> None:
    """`launch`'s devices where `layout` found them on the source."""
    for disk in launch.disks:
        found = (where.get("disks") or {}).get(disk.node) or {}
        disk.port, disk.device = found.get("port", disk.port), found.get("device", disk.device)
    for nic in launch.nics:
        found = (where.get("nics") or {}).get(nic.port_id) or {}
        nic.port, nic.id = found.get("port", nic.port), found.get("id", nic.id)


def _reconnected(old: list[Disk], volumes: list[Disk]) -> list[Disk]:
    """The guest's disks with its volumes through this host's connections (`volumes`, as
    `build.volume_disks` makes them), each where it was; a volume it no longer has goes."""
    new = {d.node: d for d in volumes}
    kept: list[Disk] = []
    for disk in old:
        if disk.node in new:
            volume = new.pop(disk.node)
            kept.append(replace(volume, port=disk.port, device=disk.device))
        elif not disk.node.startswith(build.VOLUME_NODE):
            kept.append(disk)
    return kept + list(new.values())


def _rebound(old: list[Nic], new: list[Nic]) -> list[Nic]:
    """The NICs of the ports' bindings on this host, each on the root port it had (a port
    hot-plugged earlier keeps its place in the guest's PCI tree)."""
    ports = {nic.port_id: nic.port for nic in old}
    return [replace(nic, port=ports.get(nic.port_id)) for nic in new]


class Moves:
    def __init__(self, guests: Guests) -> None:
        self.g = guests

    # -- resize and cold migration ------------------------------------------------------------

    def _backup(self, uuid: str) -> Path:
        return self.g.files.instances / f"{uuid}_resize"

    def began(self, uuid: str) -> Path:
        """There while a move from here is under way: made first, gone when it is settled."""
        return self.g.files.instances / f"{uuid}_resize.part"

    def drop_backup(self, uuid: str) -> None:
        for path in (self._backup(uuid), self.began(uuid)):
            shutil.rmtree(path, ignore_errors=True)

    async def migrate_disk_and_power_off(
        self, instance_uuid: str, dest_host: str, target: dict[str, Any] | None = None
    ) -> None:
        """Stop the guest. With a `target` (another host's `prepare_migration`), copy its
        disks into the ones that host serves; its files stay here until the move is confirmed
        (a revert starts them again). Otherwise keep a copy of its files for a revert, and
        hand them to `dest_host` (a host under the same data directory)."""
        g = self.g
        async with g.acting(instance_uuid) as guest:
            began = self.began(instance_uuid)
            began.mkdir(exist_ok=True)  # a restart that cuts the move short starts the guest
            if guest.running():
                await guest.acpi_shutdown(g.settings.compute.shutdown_timeout)
                await guest.quit()
            if target:
                by_id = {d.node or f"disk{i}": d for i, d in enumerate(guest.launch.disks)}
                for name in target.get("disks", []):
                    disk = by_id[name]
                    await disks.qemu_img("convert", "-n", "-f", disk.format, "-O", "raw",
                                         disk.path, live.nbd_url(target, name))  # fmt: skip
                return
            backup = self._backup(instance_uuid)
            shutil.rmtree(backup, ignore_errors=True)
            keep = shutil.ignore_patterns("*.sock", "qemu.pid", "*.part")  # not sockets: files
            await asyncio.to_thread(
                shutil.copytree, guest.files.dir, began, ignore=keep, dirs_exist_ok=True
            )
            began.rename(backup)  # whole, or not there
            if dest_host != g.host:
                dest = HostFiles(g.settings.data_dir, dest_host)
                dest.make()
                await asyncio.to_thread(shutil.move, guest.files.dir, dest.guest(instance_uuid).dir)
                g.drop(instance_uuid)

    async def finish_migration(self, instance: drivers.InstanceSpec, power_on: bool) -> bool:
        """The guest's files are here (moved or kept): grow its root disk to the new flavor,
        give it the new CPUs and memory and its volumes through this host's connections
        (`instance.block_devices`), start it. False when it has no files here (the
        driver builds a new guest)."""
        g = self.g
        found = g.files.guest(instance.uuid)
        if not found.config.exists():
            return False
        async with g.acting(instance.uuid) as guest:
            await guest.quit()  # the QEMU that served the disks to a cold migration, if any
            launch = guest.launch
            launch.user, launch.vnc_listen = g.user, g.vnc_listen  # this host's
            launch.nics = _rebound(launch.nics, build.nics(instance))
            launch.disks = _reconnected(launch.disks, build.volume_disks(instance))
            launch.vcpus = int(instance.flavor.get("vcpus") or launch.vcpus)
            launch.memory_mb = int(instance.flavor.get("memory_mb") or launch.memory_mb)
            root_gb = int(instance.flavor.get("root_gb") or 0)
            if root_gb:
                await disks.grow(found.disk, root_gb * disks.GiB)
            found.write_config(launch.to_dict())
            if power_on:
                await guest.start(launch, g.conf.start_timeout)
        return True

    async def abandon_migration(self, instance: drivers.InstanceSpec, power_on: bool) -> None:
        """A live migration from here cut short ends, the guest running on here; a guest
        that came here by one and was never let run (its source finished the move without
        this host) runs, if `power_on`. The files kept for a revert come back (and the guest
        starts, if `power_on`); a move cut short before they were whole only stopped the
        guest, or is stopping it still (the ACPI power-off it asked for goes on): it starts
        again from scratch."""
        g, uuid = self.g, instance.uuid
        if g.files.guest(uuid).config.exists() and g.guest(uuid).running():
            async with g.acting(uuid) as guest:
                if await live.sending(guest):
                    LOG.info("%s: ending a live migration cut short by a restart", uuid)
                    await live.abandon(guest)
                elif power_on and await guest.status() == "paused":
                    LOG.info("%s: letting run a guest that arrived by live migration", uuid)
                    await live.run(guest)
        if self._backup(uuid).exists():
            LOG.info("%s: undoing a resize or migration cut short by a restart", uuid)
            await self.finish_revert_migration(instance, power_on)
        elif self.began(uuid).exists():
            LOG.info("%s: restarting after a migration cut short by a restart", uuid)
            if g.files.guest(uuid).config.exists():
                await (g.reboot(uuid, hard=True) if power_on else g.power_off(uuid))
            shutil.rmtree(self.began(uuid), ignore_errors=True)

    async def finish_revert_migration(self, instance: drivers.InstanceSpec, power_on: bool) -> bool:
        """The guest's files kept for a revert back in place (started if `power_on`); False
        when none were kept (a move to another host: the guest is as it was)."""
        g = self.g
        backup = self._backup(instance.uuid)
        shutil.rmtree(self.began(instance.uuid), ignore_errors=True)
        if not backup.exists():
            return False
        guest = g.guest(instance.uuid)
        async with guest.lock:
            guest.busy = True
            try:
                await guest.quit()
                shutil.rmtree(guest.files.dir, ignore_errors=True)
                backup.rename(guest.files.dir)
                if power_on:
                    await guest.start(guest.launch, g.conf.start_timeout)
            finally:
                guest.busy = False
        return True

    # -- live migration -----------------------------------------------------------------------

    async def check_can_live_migrate_source(self, instance_uuid: str) -> dict[str, Any]:
        async with self.g.acting(instance_uuid) as guest:
            return {"layout": layout(guest.launch)}

    async def pre_live_migration(
        self, instance: drivers.InstanceSpec, source: dict[str, Any]
    ) -> dict[str, Any]:
        """New overlays of the same base image here, served over NBD, and a QEMU waiting for
        the guest (`live.receive`), its devices where the source has them; its volumes
        through this host's connections (`instance.block_devices`), not copied."""
        return await self._receive(instance, live.receive, source.get("layout"))

    async def prepare_migration(self, instance: drivers.InstanceSpec) -> dict[str, Any]:
        """As for a live migration, but the QEMU only serves the new disks: it never runs the
        guest (`finish_migration` starts it anew), so it has neither NICs nor volumes: the
        ports are still bound to the source host, whose dataplane namespace is not this
        host's, and the volumes are connected here only then."""
        bare = replace(instance, network_info=[], block_devices=[])
        return await self._receive(bare, live.serve_disks)

    async def _receive(
        self,
        instance: drivers.InstanceSpec,
        serve: Callable[[Guest, str], Awaitable[dict[str, Any]]],
        where: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        g = self.g
        async with g.acting(instance.uuid, known=False) as guest:
            await g.create(instance, guest, incoming=True, layout=where)
            try:
                return await serve(guest, g.settings.my_ip)
            except BaseException:
                await g.forget(guest)
                raise

    async def live_migration(self, instance_uuid: str, target: dict[str, Any]) -> dict[str, Any]:
        """The guest sent; its QEMU here stays, stopped (`postmigrate`)."""
        async with self.g.acting(instance_uuid) as guest:
            await live.send(guest, target, self.g.conf.migration_timeout)
        return {}

    async def post_live_migration(self, instance_uuid: str) -> dict[str, Any]:
        """The copy's QEMU ends; its files stay till `destroy`, so that its console log so
        far, which the destination's log begins with, is there again after a restart."""
        g = self.g
        guest = g.guest(instance_uuid)
        async with guest.lock:
            guest.busy = True
            try:
                await guest.quit()
            finally:
                guest.busy = False
        console = await asyncio.to_thread(tail, guest.files.console_log, g.conf.console_log_max)
        return {"console_log": console}

    async def post_live_migration_at_destination(
        self, instance: drivers.InstanceSpec, handover: dict[str, Any]
    ) -> None:
        """The console log so far comes first in the log here (QEMU writes nothing while the
        guest waits); then the guest runs. Again on a guest that runs: nothing."""
        async with self.g.acting(instance.uuid) as guest:
            if await guest.status() == "running":
                return
            earlier = str(handover.get("console_log") or "").encode()
            await asyncio.to_thread(append, guest.files.console_log, earlier)
            await live.run(guest)
