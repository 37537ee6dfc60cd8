"""The qemu compute driver: real machines, one QEMU process per guest, driven over QMP.

Guests are started detached, so they outlive Overcast; `init_host` finds them again from their
directories and reconnects to their monitors. KVM when a probe shows it really works, TCG
otherwise. The contract's pre- and post-conditions are in `compute.drivers.Driver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from pathlib import Path
from typing import Any

from overcast.common import errors, log
from overcast.common.config import Settings
from overcast.compute import drivers, states
from overcast.compute.drivers.qemu import build, disks, hostinfo, migration, mirror, vifs
from overcast.compute.drivers.qemu.files import HostFiles, tail
from overcast.compute.drivers.qemu.guest import Guest
from overcast.compute.drivers.qemu.launch import (
    NBD_RECONNECT_DELAY,
    Disk,
    Launch,
    Nic,
    hotplug_ports,
    netdev,
)

LOG = log.get(__name__)


class QemuDriver(drivers.Driver):
    capabilities = drivers.Capabilities(needs_image_data=True)

    def __init__(self, settings: Settings, callbacks: drivers.Callbacks) -> None:
        super().__init__(settings, callbacks)
        self.conf = settings.compute.qemu
        self.files = HostFiles(settings.data_dir, "")
        self.accel = "tcg"
        self.version = 0
        self.user: str | None = None
        self.vnc_listen: str | None = None
        self._guests: dict[str, Guest] = {}
        self.moves = migration.Moves(self)

    # -- host ---------------------------------------------------------------------------------

    async def init_host(self, host: str) -> None:
        self.host = host
        self.files = HostFiles(self.settings.data_dir, host)
        self.files.make()
        kvm, self.version = await hostinfo.probe(self.conf.binary)
        self.accel = {"kvm": "kvm", "tcg": "tcg"}.get(self.conf.accel, "kvm" if kvm else "tcg")
        self.user = await asyncio.to_thread(hostinfo.guest_user, self.conf.user)
        self.vnc_listen = self._vnc_listen()
        if os.geteuid() == 0 and self.conf.user and not self.user:
            LOG.warning("QEMU runs as root: no user %r for it (compute.qemu.user)", self.conf.user)
        LOG.info("qemu driver on %s: %s (QEMU %s) as %s", host, self.accel.upper(),
                 self.version, self.user or "Overcast's user")  # fmt: skip
        found = [self.guest(uuid) for uuid in self.files.uuids()]
        await asyncio.gather(*(self._adopt(g) for g in found))

    async def _adopt(self, guest: Guest) -> None:
        """A guest found at start: reconnect; a guest that powered off meanwhile is ended."""
        if await guest.attach() and await guest.status() == "shutdown":
            await guest.quit()

    async def cleanup_host(self) -> None:
        await asyncio.gather(*(g.detach() for g in self._guests.values()))

    async def get_available_resources(self) -> drivers.NodeResources:
        kind = "KVM" if self.accel == "kvm" else "QEMU"
        return drivers.NodeResources(
            hypervisor_hostname=self.host,
            vcpus=hostinfo.vcpus(),
            memory_mb=hostinfo.memory_mb(),
            local_gb=hostinfo.disk_gb(self.files.root),
            hypervisor_type=kind,
            hypervisor_version=self.version,
            host_ip=self.settings.my_ip,
            cpu_info={
                "arch": "x86_64",
                "model": self.conf.cpu_model if self.accel == "tcg" else "host",
                "vendor": hostinfo.cpu_model(),
                "accel": self.accel,
                "topology": {"cores": hostinfo.vcpus(), "threads": 1, "sockets": 1},
            },
            capabilities={"hypervisor_type": kind.lower(), "cpu_arch": "x86_64"},
        )

    # -- guests -------------------------------------------------------------------------------

    def guest(self, uuid: str) -> Guest:
        guest = self._guests.get(uuid)
        if guest is None:
            guest = Guest(uuid, self.files.guest(uuid), self.conf.binary, self._guest_event)
            self._guests[uuid] = guest
        return guest

    def _known(self, uuid: str) -> Guest:
        if not self.files.guest(uuid).config.exists():
            raise errors.NotFound(f"Instance {uuid} could not be found on {self.host}.")
        return self.guest(uuid)

    async def _guest_event(self, guest: Guest, event: str) -> None:
        """The guest powered off, panicked or its QEMU died, with no action under way."""
        if self.moves.began(guest.uuid).exists():
            return  # a move from here stops it (after a crash `abandon_migration` settles it)
        async with guest.lock:
            if guest.busy:
                return
            if event in ("SHUTDOWN", "GUEST_PANICKED"):
                await guest.quit()
            power = states.CRASHED if event == "GUEST_PANICKED" else states.SHUTDOWN
        await self.callbacks.lifecycle_event(guest.uuid, power)

    @contextlib.asynccontextmanager
    async def acting(self, uuid: str, known: bool = True) -> Any:
        guest = self._known(uuid) if known else self.guest(uuid)
        async with guest.lock:
            guest.busy = True
            try:
                yield guest
            finally:
                guest.busy = False

    def _vnc_listen(self) -> str | None:
        listen = self.conf.vnc_listen
        if listen == "auto":
            return self.settings.my_ip if self.settings.bus_url else None
        return None if listen == "unix" else listen

    async def list_instances(self) -> list[str]:
        return self.files.uuids()

    async def get_info(self, instance_uuid: str) -> drivers.InstanceInfo:
        guest = self._known(instance_uuid)
        return drivers.InstanceInfo(await guest.power_state())

    async def spawn(self, instance: drivers.InstanceSpec) -> None:
        async with self.acting(instance.uuid, known=False) as guest:
            await self.create(instance, guest)

    async def create(
        self,
        instance: drivers.InstanceSpec,
        guest: Guest,
        incoming: bool = False,
        layout: dict[str, Any] | None = None,
    ) -> None:
        """A new guest's files and its QEMU (its devices placed by `layout`, a live
        migration's source's); on failure nothing of it is left."""
        try:
            launch = await build.make(instance, guest.files, self.conf, self.accel)
            launch.user, launch.vnc_listen = self.user, self.vnc_listen
            if layout:
                migration.placed(launch, layout)
            guest.files.write_config(launch.to_dict())
            await guest.start(launch, self.conf.start_timeout, incoming=incoming)
        except BaseException:
            await self.forget(guest)
            raise

    async def forget(self, guest: Guest) -> None:
        await guest.quit()
        self.files.remove(guest.uuid)
        self.drop(guest.uuid)

    def drop(self, uuid: str) -> None:
        """Forget the guest's handle (its files are gone, or another host's now)."""
        self._guests.pop(uuid, None)

    async def destroy(self, instance_uuid: str, destroy_disks: bool = True) -> None:
        guest = self.guest(instance_uuid)
        async with guest.lock:
            guest.busy = True
            await guest.quit()
            self.files.remove(instance_uuid)
            self.moves.drop_backup(instance_uuid)
            self.drop(instance_uuid)

    async def reboot(self, instance_uuid: str, hard: bool) -> None:
        async with self.acting(instance_uuid) as guest:
            if not hard and guest.running() and await guest.status() == "running":
                if await guest.acpi_shutdown(self.conf.reboot_timeout):
                    await guest.qmp("system_reset")
                    await guest.qmp("cont")
                    return
                LOG.info("%s did not shut down for a soft reboot: rebooting hard", instance_uuid)
            await guest.quit()
            await guest.start(guest.launch, self.conf.start_timeout)

    async def power_off(self, instance_uuid: str, timeout: float = 0) -> None:
        async with self.acting(instance_uuid) as guest:
            if guest.running():
                await guest.acpi_shutdown(timeout)
                await guest.quit()

    async def power_on(self, instance_uuid: str) -> None:
        async with self.acting(instance_uuid) as guest:
            if guest.running():
                status = await guest.status()
                if status == "shutdown":
                    await guest.qmp("system_reset")
                if status != "running":
                    await guest.qmp("cont")
                return
            guest.files.saved_state.unlink(missing_ok=True)
            await guest.start(guest.launch, self.conf.start_timeout)

    async def pause(self, instance_uuid: str) -> None:
        async with self.acting(instance_uuid) as guest:
            await guest.qmp("stop")

    async def unpause(self, instance_uuid: str) -> None:
        async with self.acting(instance_uuid) as guest:
            await guest.qmp("cont")

    async def suspend(self, instance_uuid: str) -> None:
        """The guest's memory and devices to `suspended.state`, then QEMU ends. The state is
        in place before QEMU ends, so a suspend cut short at any point can simply run again."""
        async with self.acting(instance_uuid) as guest:
            saved, tmp = guest.files.saved_state, guest.files.dir / "suspended.state.part"
            status = "shutdown"
            if guest.running():
                with contextlib.suppress(errors.OvercastError):
                    await self._migration_done(guest)  # a save its QEMU went on with ends
                status = await guest.status()
            if status == "postmigrate" and tmp.exists():  # a save that completed: keep it
                await asyncio.to_thread(_fsync, tmp)
                tmp.replace(saved)
            if saved.exists() and status != "running":
                await guest.quit()  # saved already: only its QEMU may be left
                return
            await guest.qmp("stop")
            assert guest.monitor is not None
            await guest.monitor.pass_fd(tmp, "state", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            await guest.qmp("migrate", uri="fd:state")
            await self._migration_done(guest)
            await asyncio.to_thread(_fsync, tmp)
            tmp.replace(saved)
            await guest.quit()

    async def resume(self, instance_uuid: str) -> None:
        """Restore `suspended.state` in a new QEMU. A QEMU left by a resume cut short is
        ended first, unless it already runs the guest (the state file then just goes)."""
        async with self.acting(instance_uuid) as guest:
            saved = guest.files.saved_state
            if guest.running() and await guest.status() == "running":
                saved.unlink(missing_ok=True)
                return
            if not saved.exists():
                raise errors.Conflict(f"Instance {instance_uuid} is not suspended.")
            await guest.quit()
            await guest.start(guest.launch, self.conf.start_timeout, incoming=True)
            try:
                assert guest.monitor is not None
                await guest.monitor.pass_fd(saved, "state", os.O_RDONLY)
                await guest.qmp("migrate-incoming", uri="fd:state")
                await self._migration_done(guest)
                await guest.qmp("cont")
            except BaseException:
                await guest.quit()
                raise
            saved.unlink()

    async def _migration_done(self, guest: Guest, timeout: float = 600.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            info = await guest.qmp("query-migrate")
            status = info.get("status")
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                raise errors.OvercastError(
                    f"saving or restoring the guest's state failed: {info.get('error-desc')}"
                )
            if status is None and await guest.status() != "inmigrate":
                return  # an incoming migration that finished before we asked
            if asyncio.get_running_loop().time() > deadline:
                raise errors.Timeout("saving or restoring the guest's state timed out")
            await asyncio.sleep(0.05)

    async def trigger_crash_dump(self, instance_uuid: str) -> None:
        async with self.acting(instance_uuid) as guest:
            await guest.qmp("inject-nmi")

    async def get_console_output(self, instance_uuid: str) -> str:
        log_file = self._known(instance_uuid).files.console_log
        return await asyncio.to_thread(tail, log_file, self.conf.console_log_max)

    async def get_vnc_console(self, instance_uuid: str) -> drivers.ConsoleTarget:
        guest = self._known(instance_uuid)
        launch = guest.launch
        if not launch.vnc:
            raise errors.NotSupported("VNC is switched off (compute.qemu.vnc)")
        if not launch.vnc_listen:
            return drivers.ConsoleTarget(path=str(guest.files.vnc))
        served = await guest.qmp("query-vnc")  # the port QEMU found free
        return drivers.ConsoleTarget(host=launch.vnc_listen, port=int(served["service"]))

    async def get_serial_console(self, instance_uuid: str) -> drivers.ConsoleTarget:
        guest = self._known(instance_uuid)
        address = guest.launch.vnc_listen
        if not address:
            return drivers.ConsoleTarget(path=str(guest.files.serial))
        for chardev in await guest.qmp("query-chardev"):  # "disconnected:tcp:ADDR:PORT,server=on"
            if chardev.get("label") == "serial0":
                port = re.search(r":(\d+)(,|$)", str(chardev.get("filename", "")))
                if port:
                    return drivers.ConsoleTarget(host=address, port=int(port.group(1)))
        raise errors.OvercastError(f"QEMU of {instance_uuid} has no serial console port")

    # -- images -------------------------------------------------------------------------------

    async def snapshot(self, instance_uuid: str, dest: Path) -> drivers.SnapshotInfo:
        """A live copy of the root disk (QEMU's drive-backup) while the guest runs; an offline
        copy when it does not. Either way a standalone bootable qcow2."""
        async with self.acting(instance_uuid) as guest:
            if not guest.running():
                await disks.copy_out(guest.files.disk, dest)
                return drivers.SnapshotInfo(disk_format="qcow2")
            blocks = await guest.qmp("query-block")
            root = next(b for b in blocks if b.get("device") == "disk0")
            size = int(root["inserted"]["image"]["virtual-size"])
            await disks.create_blank(dest, size)
            assert guest.monitor is not None
            fdset = await self._add_fd(guest, dest, "snapshot")
            try:
                done = guest.monitor.expect("BLOCK_JOB_COMPLETED", "DISCONNECTED")
                await guest.qmp(
                    "drive-backup",
                    **{"job-id": f"snap-{instance_uuid[:8]}"},
                    device="disk0",
                    target=f"/dev/fdset/{fdset}",
                    format="qcow2",
                    sync="full",
                    mode="existing",
                )
                result = await asyncio.wait_for(done, 3600)
                if result["event"] == "DISCONNECTED" or result.get("error"):
                    raise errors.OvercastError(
                        f"snapshot of {instance_uuid} failed: {result.get('error', 'QEMU ended')}"
                    )
            finally:
                with contextlib.suppress(errors.OvercastError):
                    await guest.qmp("remove-fd", **{"fdset-id": fdset})
            return drivers.SnapshotInfo(disk_format="qcow2")

    async def _add_fd(self, guest: Guest, path: Path, owner: str) -> int:
        """Hand QEMU `path` open read-write and read-only, as one fd set (`/dev/fdset/N`):
        QEMU opens the path in both modes and may not open it itself. The fds are tagged with
        their block node `owner` (`_drop_unrecorded` finds them by it)."""
        assert guest.monitor is not None
        fdset: int | None = None
        for flags in (os.O_RDWR, os.O_RDONLY):
            fd = os.open(path, flags | os.O_CLOEXEC)
            try:
                guest.monitor.send_fd(fd)
                args: dict[str, Any] = {"opaque": owner}
                if fdset is not None:
                    args["fdset-id"] = fdset
                fdset = int((await guest.qmp("add-fd", **args))["fdset-id"])
            finally:
                os.close(fd)
        assert fdset is not None
        return fdset

    # -- rescue -------------------------------------------------------------------------------

    async def rescue(self, instance: drivers.InstanceSpec, rescue_image: dict[str, Any]) -> None:
        """Boot from the rescue image (`instance` carries it) with the guest's disks after it."""
        async with self.acting(instance.uuid) as guest:
            launch = guest.launch
            await guest.quit()
            roots, _ = await build.root_disk(instance, guest.files, guest.files.rescue)
            roots[0].node = "rescue0"
            launch.disks = [roots[0], *launch.disks]
            launch.kernel = launch.ramdisk = None
            await guest.start(launch, self.conf.start_timeout)

    async def unrescue(self, instance_uuid: str) -> None:
        async with self.acting(instance_uuid) as guest:
            await guest.quit()
            guest.files.rescue.unlink(missing_ok=True)
            await guest.start(guest.launch, self.conf.start_timeout)

    # -- moves (`migration.Moves`) ------------------------------------------------------------

    async def migrate_disk_and_power_off(
        self, instance_uuid: str, dest_host: str, target: dict[str, Any] | None = None
    ) -> None:
        await self.moves.migrate_disk_and_power_off(instance_uuid, dest_host, target)

    async def finish_migration(self, instance: drivers.InstanceSpec, power_on: bool) -> None:
        if not await self.moves.finish_migration(instance, power_on):
            await super().finish_migration(instance, power_on)

    async def confirm_migration(self, instance_uuid: str) -> None:
        self.moves.drop_backup(instance_uuid)

    async def abandon_migration(self, instance: drivers.InstanceSpec, power_on: bool) -> None:
        await self.moves.abandon_migration(instance, power_on)

    async def finish_revert_migration(self, instance: drivers.InstanceSpec, power_on: bool) -> None:
        if not await self.moves.finish_revert_migration(instance, power_on):
            await super().finish_revert_migration(instance, power_on)

    async def prepare_migration(self, instance: drivers.InstanceSpec) -> dict[str, Any]:
        return await self.moves.prepare_migration(instance)

    async def check_can_live_migrate_source(self, instance_uuid: str) -> dict[str, Any]:
        return await self.moves.check_can_live_migrate_source(instance_uuid)

    async def pre_live_migration(
        self, instance: drivers.InstanceSpec, source: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self.moves.pre_live_migration(instance, source or {})

    async def live_migration(
        self, instance_uuid: str, dest_host: str, target: dict[str, Any]
    ) -> dict[str, Any]:
        return await self.moves.live_migration(instance_uuid, target)

    async def post_live_migration(self, instance_uuid: str) -> dict[str, Any]:
        return await self.moves.post_live_migration(instance_uuid)

    async def post_live_migration_at_destination(
        self, instance: drivers.InstanceSpec, handover: dict[str, Any]
    ) -> None:
        await self.moves.post_live_migration_at_destination(instance, handover)

    # -- diagnostics --------------------------------------------------------------------------

    async def get_diagnostics(self, instance_uuid: str) -> dict[str, Any]:
        guest = self._known(instance_uuid)
        launch = guest.launch
        power = await guest.power_state()
        out: dict[str, Any] = {
            "state": states.POWER_NAMES.get(power, "pending").lower(),
            "driver": "qemu",
            "hypervisor": "kvm" if self.accel == "kvm" else "qemu",
            "hypervisor_os": "linux",
            "uptime": 0,
            "config_drive": any(d.node == "config" for d in launch.disks),
            "num_cpus": launch.vcpus,
            "num_nics": len(launch.nics),
            "num_disks": len(launch.disks),
            "cpu_details": [],
            "nic_details": [],
            "disk_details": [],
            "memory_details": {"maximum": launch.memory_mb, "used": 0},
        }
        pid = guest.pid()
        if pid is None:
            return out
        out["uptime"], cpu_ns, rss = await asyncio.to_thread(_proc_stats, pid)
        out["memory_details"]["used"] = min(launch.memory_mb, rss >> 20)
        out["cpu_details"] = [{"id": 0, "time": cpu_ns, "utilisation": None}]
        for blk in await guest.qmp("query-blockstats"):
            st = blk.get("stats") or {}
            out["disk_details"].append(
                {
                    "read_bytes": st.get("rd_bytes", 0),
                    "read_requests": st.get("rd_operations", 0),
                    "write_bytes": st.get("wr_bytes", 0),
                    "write_requests": st.get("wr_operations", 0),
                    "errors_count": st.get("failed_rd_operations", 0)
                    + st.get("failed_wr_operations", 0),
                }
            )
        for nic in launch.nics:
            out["nic_details"].append({"mac_address": nic.mac, **await vifs.stats(nic)})
        return out

    # -- attach and detach while running ------------------------------------------------------

    async def attach_volume(
        self, instance_uuid: str, connection_info: dict[str, Any], device: str
    ) -> None:
        """Hot-plug the volume over QMP (a virtio disk; on q35 into a free root port)."""
        async with self.acting(instance_uuid) as guest:
            launch = guest.launch
            disk = build.volume_disk(connection_info, device)
            if any(d.node == disk.node for d in launch.disks):
                return
            if guest.running():
                await self._plug_disk(guest, launch, disk, connection_info)
            launch.disks.append(disk)
            guest.files.write_config(launch.to_dict())

    async def _add_node(self, guest: Guest, disk: Disk, connection_info: dict[str, Any]) -> None:
        """The volume as block node `disk.node` (its file handed over as an fd, or NBD)."""
        data = connection_info.get("data") or {}
        if connection_info.get("driver_volume_type") == "local":
            fdset = await self._add_fd(guest, Path(data["device_path"]), disk.node)
            disk.fdset = fdset
            file: dict[str, Any] = {"driver": "file", "filename": f"/dev/fdset/{fdset}"}
        else:
            file = {
                "driver": "nbd",
                "server": {"type": "inet", "host": data["host"], "port": str(data["port"])},
                "export": data.get("name", ""),
                "reconnect-delay": NBD_RECONNECT_DELAY,
            }
        await guest.qmp("blockdev-add", **{"node-name": disk.node, "driver": disk.format,
                                           "file": file})  # fmt: skip

    async def _plug_disk(
        self, guest: Guest, launch: Launch, disk: Disk, connection_info: dict[str, Any]
    ) -> None:
        used = {d.port for d in launch.disks} | {n.port for n in launch.nics}
        free = [p for p in hotplug_ports(launch) if p not in used]
        if hotplug_ports(launch) and not free:
            raise errors.Conflict(f"Instance {guest.uuid} has no free hot-plug slot.")
        disk.port = free[0] if free else None
        where = {"bus": disk.port} if disk.port else {}
        await self._add_node(guest, disk, connection_info)
        try:
            await guest.qmp("device_add", driver="virtio-blk-pci", drive=disk.node,
                            id=disk.device_id, serial=disk.serial or "", **where)  # fmt: skip
        except errors.OvercastError:
            await guest.qmp("blockdev-del", **{"node-name": disk.node})
            raise

    async def _unplug(self, guest: Guest, device_id: str) -> None:
        if not guest.running():
            return
        assert guest.monitor is not None
        gone = guest.monitor.expect("DEVICE_DELETED")
        with contextlib.suppress(errors.Conflict):
            await guest.qmp("device_del", id=device_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gone, self.conf.unplug_timeout)

    async def _drop_node(self, guest: Guest, disk: Disk) -> None:
        """Drop a volume's block node and the fd set its file came in, so that QEMU lets
        the file go now (a deleted volume's blocks are freed), not when the guest stops."""
        with contextlib.suppress(errors.Conflict):
            await guest.qmp("blockdev-del", **{"node-name": disk.node})
        if disk.fdset is not None:
            with contextlib.suppress(errors.Conflict):
                await guest.qmp("remove-fd", **{"fdset-id": disk.fdset})

    async def detach_volume(self, instance_uuid: str, connection_info: dict[str, Any]) -> None:
        if not self.files.guest(instance_uuid).config.exists():
            return  # detaching from a guest that is gone succeeds
        async with self.acting(instance_uuid) as guest:
            launch = guest.launch
            node = build.volume_node(connection_info)
            recorded = [d for d in launch.disks if d.node == node]
            if not recorded and guest.running():
                await self._drop_unrecorded(guest, node)
            for disk in recorded:
                await self._unplug(guest, disk.device_id)
                if guest.running():
                    await self._drop_node(guest, disk)
                launch.disks = [d for d in launch.disks if d.node != node]
                guest.files.write_config(launch.to_dict())

    async def _drop_unrecorded(self, guest: Guest, node: str) -> None:
        """What QEMU holds of a volume the guest's record does not list: an attach or detach
        cut short between its QMP commands and the record's write (a kill -9)."""
        await self._unplug(guest, f"dev-{node}")
        with contextlib.suppress(errors.Conflict):
            await guest.qmp("blockdev-del", **{"node-name": node})
        for fdset in await guest.qmp("query-fdsets"):
            if any(fd.get("opaque") == node for fd in fdset.get("fds", [])):
                with contextlib.suppress(errors.Conflict):
                    await guest.qmp("remove-fd", **{"fdset-id": fdset["fdset-id"]})

    async def extend_volume(
        self, instance_uuid: str, connection_info: dict[str, Any], new_size: int
    ) -> None:
        """QMP `block_resize` of the volume's node: QEMU grows the image it holds (qcow2
        metadata, a raw file's length) and the guest's virtio disk learns its new size."""
        async with self.acting(instance_uuid) as guest:
            node = build.volume_node(connection_info)
            if not any(d.node == node for d in guest.launch.disks):
                raise errors.NotFound(f"Volume {node} is not attached to {instance_uuid}.")
            if guest.running():  # a boot-time drive answers to its name, a hot-plugged to its node
                await guest.qmp("block_resize", device=node, size=new_size,
                                **{"node-name": node})  # fmt: skip

    async def swap_volume(
        self,
        instance_uuid: str,
        old_connection_info: dict[str, Any],
        new_connection_info: dict[str, Any],
        device: str,
    ) -> None:
        """QEMU mirrors the disk into the new volume and pivots (`mirror`); the guest's
        device keeps its id, now over the new volume's node."""
        async with self.acting(instance_uuid) as guest:
            launch = guest.launch
            old_node = build.volume_node(old_connection_info)
            disk = next((d for d in launch.disks if d.node == old_node), None)
            if disk is None:
                raise errors.NotFound(f"Volume {old_node} is not attached to {instance_uuid}.")
            if not guest.running():
                raise errors.Conflict(f"Instance {instance_uuid} is not running.")
            new = build.volume_disk(new_connection_info, device)
            await self._add_node(guest, new, new_connection_info)
            try:
                await mirror.pivot(guest, old_node, new.node, self.conf.swap_timeout)
            except BaseException:
                with contextlib.suppress(errors.OvercastError):
                    await self._drop_node(guest, new)
                raise
            # A hot-plugged volume's node is ours to drop; a boot-time drive's went with the job.
            await self._drop_node(guest, disk)
            disk.device = disk.device_id
            disk.path, disk.format, disk.node = new.path, new.format, new.node
            disk.fdset = new.fdset
            guest.files.write_config(launch.to_dict())

    async def attach_interface(self, instance_uuid: str, vif: dict[str, Any]) -> None:
        """Hot-plug one more NIC on the port's tap (opened in the dataplane's namespace and
        handed to QEMU by `getfd`; the network agent keeps it on its bridge)."""
        async with self.acting(instance_uuid) as guest:
            launch = guest.launch
            port = str(vif.get("port_id"))
            if any(n.port_id == port for n in launch.nics):
                return
            nic = build.nic_for(vif, build.properties({}), len(launch.nics))
            nic.id = f"net-{port[:8]}"
            if guest.running():
                used = {d.port for d in launch.disks} | {n.port for n in launch.nics}
                free = [p for p in hotplug_ports(launch) if p not in used]
                if hotplug_ports(launch) and not free:
                    raise errors.Conflict(f"Instance {instance_uuid} has no free hot-plug slot.")
                nic.port = free[0] if free else None
                await self._netdev_add(guest, nic, len(launch.nics))
                where = {"bus": nic.port} if nic.port else {}
                await guest.qmp("device_add", driver="virtio-net-pci", netdev=nic.id,
                                mac=nic.mac, id=f"dev-{nic.id}", **where)  # fmt: skip
            launch.nics.append(nic)
            guest.files.write_config(launch.to_dict())

    async def _netdev_add(self, guest: Guest, nic: Nic, index: int) -> None:
        fds = await vifs.open_taps([nic])
        try:
            if nic.id in fds:
                if not await guest.attach() or guest.monitor is None:
                    raise errors.Conflict(f"Instance {guest.uuid} is not running.")
                guest.monitor.send_fd(fds[nic.id])
                await guest.qmp("getfd", fdname=f"fd-{nic.id}")
            names = {nic_id: f"fd-{nic_id}" for nic_id in fds}
            await guest.qmp("netdev_add", **netdev(nic, index, names))
        finally:
            vifs.close(fds)

    async def detach_interface(self, instance_uuid: str, port_id: str) -> None:
        if not self.files.guest(instance_uuid).config.exists():
            return
        async with self.acting(instance_uuid) as guest:
            launch = guest.launch
            for nic in [n for n in launch.nics if n.port_id == port_id]:
                await self._unplug(guest, f"dev-{nic.id}")
                with contextlib.suppress(errors.Conflict):
                    if guest.running():
                        await guest.qmp("netdev_del", id=nic.id)
            launch.nics = [n for n in launch.nics if n.port_id != port_id]
            guest.files.write_config(launch.to_dict())


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _proc_stats(pid: int) -> tuple[int, int, int]:
    """(seconds the process has run, CPU time in ns, resident bytes) from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) * 1_000_000_000 // ticks
    started = int(fields[19]) / ticks
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return int(uptime - started), cpu, rss
