"""The qemu compute driver: real machines, one QEMU process per guest, driven over QMP.

Guests are started detached, so they outlive Overcast; `init_host` finds them again from their
directories and reconnects to their monitors. KVM when a probe shows it really works, TCG
otherwise. The contract's pre- and post-conditions are in `compute.drivers.Driver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from overcast.common import errors, log
from overcast.common.config import Settings
from overcast.compute import drivers, states
from overcast.compute.drivers.qemu import build, disks, hostinfo, vifs
from overcast.compute.drivers.qemu.files import HostFiles
from overcast.compute.drivers.qemu.guest import Guest
from overcast.compute.drivers.qemu.launch import Disk, Launch, hotplug_ports

LOG = log.get(__name__)


class QemuDriver(drivers.Driver):
    capabilities = drivers.Capabilities(needs_image_data=True, supports_live_migration=False)

    def __init__(self, settings: Settings, callbacks: drivers.Callbacks) -> None:
        super().__init__(settings, callbacks)
        self.conf = settings.compute.qemu
        self.files = HostFiles(settings.data_dir, "")
        self.accel = "tcg"
        self.version = 0
        self._guests: dict[str, Guest] = {}

    # -- host ---------------------------------------------------------------------------------

    async def init_host(self, host: str) -> None:
        self.host = host
        self.files = HostFiles(self.settings.data_dir, host)
        self.files.make()
        kvm, self.version = await hostinfo.probe(self.conf.binary)
        self.accel = {"kvm": "kvm", "tcg": "tcg"}.get(self.conf.accel, "kvm" if kvm else "tcg")
        LOG.info("qemu driver on %s: %s (QEMU %s)", host, self.accel.upper(), self.version)
        found = [self._guest(uuid) for uuid in self.files.uuids()]
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
            host_ip=self.settings.host,
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

    def _guest(self, uuid: str) -> Guest:
        guest = self._guests.get(uuid)
        if guest is None:
            guest = Guest(uuid, self.files.guest(uuid), self.conf.binary, self._guest_event)
            self._guests[uuid] = guest
        return guest

    def _known(self, uuid: str) -> Guest:
        if not self.files.guest(uuid).config.exists():
            raise errors.NotFound(f"Instance {uuid} could not be found on {self.host}.")
        return self._guest(uuid)

    async def _guest_event(self, guest: Guest, event: str) -> None:
        """The guest powered off, panicked or its QEMU died, with no action under way."""
        async with guest.lock:
            if guest.busy:
                return
            if event in ("SHUTDOWN", "GUEST_PANICKED"):
                await guest.quit()
            power = states.CRASHED if event == "GUEST_PANICKED" else states.SHUTDOWN
        await self.callbacks.lifecycle_event(guest.uuid, power)

    @contextlib.asynccontextmanager
    async def _acting(self, uuid: str, known: bool = True) -> Any:
        guest = self._known(uuid) if known else self._guest(uuid)
        async with guest.lock:
            guest.busy = True
            try:
                yield guest
            finally:
                guest.busy = False

    def _user(self) -> str | None:
        return self.conf.user if os.geteuid() == 0 and self.conf.user else None

    async def list_instances(self) -> list[str]:
        return self.files.uuids()

    async def get_info(self, instance_uuid: str) -> drivers.InstanceInfo:
        guest = self._known(instance_uuid)
        return drivers.InstanceInfo(await guest.power_state())

    async def spawn(self, instance: drivers.InstanceSpec) -> None:
        async with self._acting(instance.uuid, known=False) as guest:
            try:
                launch = await build.make(instance, guest.files, self.conf, self.accel)
                launch.user = self._user()
                guest.files.write_config(launch.to_dict())
                await guest.start(launch, self.conf.start_timeout)
            except BaseException:
                await guest.quit()
                self.files.remove(instance.uuid)
                raise

    async def destroy(self, instance_uuid: str, destroy_disks: bool = True) -> None:
        guest = self._guest(instance_uuid)
        async with guest.lock:
            guest.busy = True
            await guest.quit()
            self.files.remove(instance_uuid)
            shutil.rmtree(self._backup(instance_uuid), ignore_errors=True)
            self._guests.pop(instance_uuid, None)

    async def reboot(self, instance_uuid: str, hard: bool) -> None:
        async with self._acting(instance_uuid) as guest:
            if not hard and guest.running() and await guest.status() == "running":
                if await guest.acpi_shutdown(self.conf.reboot_timeout):
                    await guest.qmp("system_reset")
                    await guest.qmp("cont")
                    return
                LOG.info("%s did not shut down for a soft reboot: rebooting hard", instance_uuid)
            await guest.quit()
            await guest.start(guest.launch, self.conf.start_timeout)

    async def power_off(self, instance_uuid: str, timeout: float = 0) -> None:
        async with self._acting(instance_uuid) as guest:
            if guest.running():
                await guest.acpi_shutdown(timeout)
                await guest.quit()

    async def power_on(self, instance_uuid: str) -> None:
        async with self._acting(instance_uuid) as guest:
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
        async with self._acting(instance_uuid) as guest:
            await guest.qmp("stop")

    async def unpause(self, instance_uuid: str) -> None:
        async with self._acting(instance_uuid) as guest:
            await guest.qmp("cont")

    async def suspend(self, instance_uuid: str) -> None:
        """The guest's memory and devices to `suspended.state`, then QEMU ends."""
        async with self._acting(instance_uuid) as guest:
            tmp = guest.files.dir / "suspended.state.part"
            await guest.qmp("stop")
            assert guest.monitor is not None
            await guest.monitor.pass_fd(tmp, "state", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            await guest.qmp("migrate", uri="fd:state")
            await self._migration_done(guest)
            await guest.quit()
            await asyncio.to_thread(_fsync, tmp)
            tmp.replace(guest.files.saved_state)

    async def resume(self, instance_uuid: str) -> None:
        async with self._acting(instance_uuid) as guest:
            saved = guest.files.saved_state
            if not saved.exists():
                raise errors.Conflict(f"Instance {instance_uuid} is not suspended.")
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
        async with self._acting(instance_uuid) as guest:
            await guest.qmp("inject-nmi")

    async def get_console_output(self, instance_uuid: str) -> str:
        log_file = self._known(instance_uuid).files.console_log
        return await asyncio.to_thread(_tail, log_file, self.conf.console_log_max)

    # -- images -------------------------------------------------------------------------------

    async def snapshot(self, instance_uuid: str, dest: Path) -> drivers.SnapshotInfo:
        """A live copy of the root disk (QEMU's drive-backup) while the guest runs; an offline
        copy when it does not. Either way a standalone bootable qcow2."""
        async with self._acting(instance_uuid) as guest:
            if not guest.running():
                await disks.copy_out(guest.files.disk, dest)
                return drivers.SnapshotInfo(disk_format="qcow2")
            blocks = await guest.qmp("query-block")
            root = next(b for b in blocks if b.get("device") == "disk0")
            size = int(root["inserted"]["image"]["virtual-size"])
            await disks.create_blank(dest, size)
            assert guest.monitor is not None
            fdset = await self._add_fd(guest, dest)
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

    async def _add_fd(self, guest: Guest, path: Path) -> int:
        """Hand QEMU `path` open read-write and read-only, as one fd set (`/dev/fdset/N`):
        QEMU opens the path in both modes and may not open it itself."""
        assert guest.monitor is not None
        fdset: int | None = None
        for flags in (os.O_RDWR, os.O_RDONLY):
            fd = os.open(path, flags | os.O_CLOEXEC)
            try:
                guest.monitor.send_fd(fd)
                args = {} if fdset is None else {"fdset-id": fdset}
                fdset = int((await guest.qmp("add-fd", **args))["fdset-id"])
            finally:
                os.close(fd)
        assert fdset is not None
        return fdset

    # -- rescue -------------------------------------------------------------------------------

    async def rescue(self, instance: drivers.InstanceSpec, rescue_image: dict[str, Any]) -> None:
        """Boot from the rescue image (`instance` carries it) with the guest's disks after it."""
        async with self._acting(instance.uuid) as guest:
            launch = guest.launch
            await guest.quit()
            roots, _ = await build.root_disk(instance, guest.files, guest.files.rescue)
            roots[0].node = "rescue0"
            launch.disks = [roots[0], *launch.disks]
            launch.kernel = launch.ramdisk = None
            await guest.start(launch, self.conf.start_timeout)

    async def unrescue(self, instance_uuid: str) -> None:
        async with self._acting(instance_uuid) as guest:
            await guest.quit()
            guest.files.rescue.unlink(missing_ok=True)
            await guest.start(guest.launch, self.conf.start_timeout)

    # -- resize and cold migration ------------------------------------------------------------

    def _backup(self, uuid: str) -> Path:
        return self.files.instances / f"{uuid}_resize"

    async def migrate_disk_and_power_off(self, instance_uuid: str, dest_host: str) -> None:
        """Stop the guest, keep a copy of its files for a revert, hand them to `dest_host`
        (a host under the same data directory)."""
        async with self._acting(instance_uuid) as guest:
            if guest.running():
                await guest.acpi_shutdown(self.settings.compute.shutdown_timeout)
                await guest.quit()
            backup = self._backup(instance_uuid)
            shutil.rmtree(backup, ignore_errors=True)
            keep = shutil.ignore_patterns("*.sock", "qemu.pid", "*.part")  # not sockets: files
            await asyncio.to_thread(shutil.copytree, guest.files.dir, backup, ignore=keep)
            if dest_host != self.host:
                dest = HostFiles(self.settings.data_dir, dest_host)
                dest.make()
                await asyncio.to_thread(shutil.move, guest.files.dir, dest.guest(instance_uuid).dir)
                self._guests.pop(instance_uuid, None)

    async def finish_migration(self, instance: drivers.InstanceSpec, power_on: bool) -> None:
        """The guest's files are here (moved or kept): grow its root disk to the new flavor,
        give it the new CPUs and memory, start it. Without files, a new guest."""
        files = self.files.guest(instance.uuid)
        if not files.config.exists():
            await super().finish_migration(instance, power_on)
            return
        async with self._acting(instance.uuid) as guest:
            launch = guest.launch
            launch.vcpus = int(instance.flavor.get("vcpus") or launch.vcpus)
            launch.memory_mb = int(instance.flavor.get("memory_mb") or launch.memory_mb)
            root_gb = int(instance.flavor.get("root_gb") or 0)
            if root_gb:
                await disks.grow(files.disk, root_gb * disks.GiB)
            files.write_config(launch.to_dict())
            if power_on:
                await guest.start(launch, self.conf.start_timeout)

    async def confirm_migration(self, instance_uuid: str) -> None:
        shutil.rmtree(self._backup(instance_uuid), ignore_errors=True)

    async def finish_revert_migration(self, instance: drivers.InstanceSpec, power_on: bool) -> None:
        backup = self._backup(instance.uuid)
        if not backup.exists():
            await super().finish_revert_migration(instance, power_on)
            return
        guest = self._guest(instance.uuid)
        async with guest.lock:
            guest.busy = True
            try:
                await guest.quit()
                shutil.rmtree(guest.files.dir, ignore_errors=True)
                backup.rename(guest.files.dir)
                if power_on:
                    await guest.start(guest.launch, self.conf.start_timeout)
            finally:
                guest.busy = False

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
            out["nic_details"].append({"mac_address": nic.mac, **_tap_stats(nic.tap)})
        return out

    # -- attach and detach while running ------------------------------------------------------

    async def attach_volume(
        self, instance_uuid: str, connection_info: dict[str, Any], device: str
    ) -> None:
        """Hot-plug the volume over QMP (a virtio disk; on q35 into a free root port)."""
        async with self._acting(instance_uuid) as guest:
            launch = guest.launch
            disk = build.volume_disk(connection_info, device)
            if any(d.node == disk.node for d in launch.disks):
                return
            if guest.running():
                await self._plug_disk(guest, launch, disk, connection_info)
            launch.disks.append(disk)
            guest.files.write_config(launch.to_dict())

    async def _plug_disk(
        self, guest: Guest, launch: Launch, disk: Disk, connection_info: dict[str, Any]
    ) -> None:
        data = connection_info.get("data") or {}
        if connection_info.get("driver_volume_type") == "local":
            fdset = await self._add_fd(guest, Path(data["device_path"]))
            file: dict[str, Any] = {"driver": "file", "filename": f"/dev/fdset/{fdset}"}
        else:
            file = {
                "driver": "nbd",
                "server": {"type": "inet", "host": data["host"], "port": str(data["port"])},
                "export": data.get("name", ""),
            }
        used = {d.port for d in launch.disks} | {n.port for n in launch.nics}
        free = [p for p in hotplug_ports(launch) if p not in used]
        if hotplug_ports(launch) and not free:
            raise errors.Conflict(f"Instance {guest.uuid} has no free hot-plug slot.")
        disk.port = free[0] if free else None
        where = {"bus": disk.port} if disk.port else {}
        await guest.qmp("blockdev-add", **{"node-name": disk.node, "driver": disk.format,
                                           "file": file})  # fmt: skip
        try:
            await guest.qmp("device_add", driver="virtio-blk-pci", drive=disk.node,
                            id=f"dev-{disk.node}", serial=disk.serial or "", **where)  # fmt: skip
        except errors.OvercastError:
            await guest.qmp("blockdev-del", **{"node-name": disk.node})
            raise

    async def _unplug(self, guest: Guest, device_id: str, node: str | None = None) -> None:
        if not guest.running():
            return
        assert guest.monitor is not None
        gone = guest.monitor.expect("DEVICE_DELETED")
        with contextlib.suppress(errors.Conflict):
            await guest.qmp("device_del", id=device_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gone, self.conf.unplug_timeout)
        if node is not None:
            with contextlib.suppress(errors.Conflict):
                await guest.qmp("blockdev-del", **{"node-name": node})

    async def detach_volume(self, instance_uuid: str, connection_info: dict[str, Any]) -> None:
        if not self.files.guest(instance_uuid).config.exists():
            return  # detaching from a guest that is gone succeeds
        async with self._acting(instance_uuid) as guest:
            launch = guest.launch
            node = build.volume_node(connection_info)
            if any(d.node == node for d in launch.disks):
                await self._unplug(guest, f"dev-{node}", node)
                launch.disks = [d for d in launch.disks if d.node != node]
                guest.files.write_config(launch.to_dict())

    async def attach_interface(self, instance_uuid: str, vif: dict[str, Any]) -> None:
        """Hot-plug one more NIC on the port's tap (QEMU makes it; the tap joins the bridge)."""
        async with self._acting(instance_uuid) as guest:
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
                await guest.qmp("netdev_add", type="tap", id=nic.id, ifname=nic.tap,
                                script="no", downscript="no")  # fmt: skip
                where = {"bus": nic.port} if nic.port else {}
                await guest.qmp("device_add", driver="virtio-net-pci", netdev=nic.id,
                                mac=nic.mac, id=f"dev-{nic.id}", **where)  # fmt: skip
                await vifs.plug([nic])
            launch.nics.append(nic)
            guest.files.write_config(launch.to_dict())

    async def detach_interface(self, instance_uuid: str, port_id: str) -> None:
        if not self.files.guest(instance_uuid).config.exists():
            return
        async with self._acting(instance_uuid) as guest:
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


def _tail(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read()
    except FileNotFoundError:
        return ""
    return data.decode(errors="replace").replace("\r\n", "\n").replace("\r", "")


def _proc_stats(pid: int) -> tuple[int, int, int]:
    """(seconds the process has run, CPU time in ns, resident bytes) from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) * 1_000_000_000 // ticks
    started = int(fields[19]) / ticks
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return int(uptime - started), cpu, rss


def _tap_stats(tap: str | None) -> dict[str, int]:
    names = {"rx_octets": "rx_bytes", "rx_packets": "rx_packets", "tx_octets": "tx_bytes",
             "tx_packets": "tx_packets", "rx_errors": "rx_errors", "tx_errors": "tx_errors",
             "rx_drop": "rx_dropped", "tx_drop": "tx_dropped"}  # fmt: skip
    out = {}
    for key, stat in names.items():
        try:
            out[key] = int(Path(f"/sys/class/net/{tap}/statistics/{stat}").read_text())
        except (OSError, ValueError):
            out[key] = 0
    return out
