"""A guest's QEMU command line, from a `Launch`: the typed, saved description of one guest
(CPU, memory, machine, disks, NICs, kernel) that survives restarts in `launch.json`.

Built by `guests` from an instance spec; turned into argv here and nowhere else. The guest gets
only its own files: every path on the command line is inside its directory, except the
read-only base image its root overlay names, which the format inspector has checked. Started
as root, QEMU opens them all, then drops to `Launch.user` (`-runas`): guest directories are
root's, mode 0700, so from then on it opens no guest's file, not even its own. Its disk files
come as fd sets (`-add-fd`, read-write and read-only), which QEMU reopens from when a suspend or
a migration changes its access; what it needs later (volumes, snapshot targets, saved state,
taps) the driver hands it as open fds too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from overcast.common import errors
from overcast.compute.drivers.qemu.files import PREFIX, GuestFiles

SANDBOX = "on,obsolete=deny,elevateprivileges={},spawn=deny,resourcecontrol=deny"
# elevateprivileges is allowed only when -runas must drop to the unprivileged user; with spawn
# denied the process can run nothing else either way.


@dataclass
class Disk:
    path: str
    format: str = "qcow2"
    bus: str = "virtio"  # virtio, scsi, ide, sata
    media: str = "disk"  # disk or cdrom
    readonly: bool = False
    serial: str | None = None
    node: str = ""  # QMP node/device id, unique per guest
    port: str | None = None  # the hot-plug root port it was plugged into (q35)
    device: str = ""  # the guest device's id when not `dev-<node>` (a swapped volume's)
    fdset: int | None = None  # the QMP fd set a hot-plugged volume's file was handed in

    @property
    def device_id(self) -> str:
        return self.device or f"dev-{self.node}"


@dataclass
class Nic:
    mac: str
    model: str = "virtio"  # virtio, e1000, rtl8139
    tap: str | None = None  # the port's tap (the binding's devname), opened by `vifs`
    id: str = ""
    bridge: str | None = None  # the dataplane's bridge the tap joins, for bridge bindings
    port_id: str = ""  # the network service's port
    port: str | None = None  # the hot-plug root port it was plugged into (q35)
    namespace: str | None = None  # the dataplane namespace the tap lives in; none: a hub port


@dataclass
class Launch:
    uuid: str
    name: str
    vcpus: int
    memory_mb: int
    machine: str
    accel: str  # kvm or tcg
    cpu: str
    disks: list[Disk] = field(default_factory=list)
    nics: list[Nic] = field(default_factory=list)
    kernel: str | None = None
    ramdisk: str | None = None
    cmdline: str | None = None
    boot_cdrom: bool = False
    vnc: bool = True
    vnc_listen: str | None = None  # an address for the consoles (VNC, serial) over TCP
    user: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Launch:
        data = dict(data)
        data["disks"] = [Disk(**d) for d in data.get("disks", [])]
        data["nics"] = [Nic(**n) for n in data.get("nics", [])]
        return cls(**data)


SERIAL_PORTS = (10000, 20000)  # where serial consoles over TCP listen (Nova's port_range)
HOTPLUG_PORTS = 4  # q35 hot-plugs into PCIe root ports, made free at launch


def hotplug_ports(launch: Launch) -> list[str]:
    return [f"hp{i}" for i in range(HOTPLUG_PORTS)] if "q35" in launch.machine else []


_NIC_DEVICES = {"virtio": "virtio-net-pci", "e1000": "e1000", "rtl8139": "rtl8139"}


# Seconds QEMU's NBD client holds a volume's requests while its export is away: the volume
# service opens an export anew (cutting its clients off) after a guest moved live from the
# volume's own host (`volume.drivers.nbd.Exports.refresh`).
NBD_RECONNECT_DELAY = 30


def disk_fdset(index: int) -> int:
    """The fd set a boot-time disk's file comes in (QMP's own `add-fd` sets are numbered apart)."""
    return 1000 + index


def _disk_args(disk: Disk, index: int, machine: str, fds: Sequence[int]) -> list[str]:
    node = disk.node or f"disk{index}"
    dev = disk.device or f"dev-{node}"
    args = [arg for fd in fds for arg in ("-add-fd", f"fd={fd},set={disk_fdset(index)}")]
    path = f"/dev/fdset/{disk_fdset(index)}" if fds else disk.path
    drive = f"file={path},format={disk.format},if=none,id={node},cache=writeback"
    if path.startswith("nbd:"):
        drive += f",file.reconnect-delay={NBD_RECONNECT_DELAY}"
    drive += ",discard=unmap" if disk.media == "disk" else ",media=cdrom"
    if disk.readonly:
        drive += ",readonly=on"
    args += ["-drive", drive]
    serial = f",serial={disk.serial}" if disk.serial else ""
    if disk.media == "cdrom":
        args += ["-device", f"ide-cd,drive={node},id={dev}"]
    elif disk.bus == "virtio":
        port = f",bus={disk.port}" if disk.port else ""
        args += ["-device", f"virtio-blk-pci,drive={node},id={dev}{serial}{port}"]
    elif disk.bus == "scsi":
        args += ["-device", f"scsi-hd,drive={node},id={dev},bus=scsi0.0{serial}"]
    else:  # ide or sata: the machine's own controller
        args += ["-device", f"ide-hd,drive={node},id={dev}{serial}"]
    if index == 0 and disk.media == "disk":
        args[-1] += ",bootindex=1"
    elif disk.media == "cdrom":
        args[-1] += ",bootindex=0"
    return args


def netdev(nic: Nic, index: int, fds: Mapping[str, int | str]) -> dict[str, Any]:
    """One NIC's netdev options (as `netdev_add` takes them): its tap by the fd (or `getfd`
    name) in `fds`, or with no namespace a hub port of its own (no host side at all)."""
    if not nic.namespace:
        return {"type": "hubport", "id": nic.id, "hubid": index}
    if nic.id not in fds:
        raise errors.OvercastError(f"the tap of port {nic.port_id} is not open")
    return {"type": "tap", "id": nic.id, "fd": str(fds[nic.id])}


def argv(
    binary: str,
    launch: Launch,
    files: GuestFiles,
    incoming: bool = False,
    fds: Mapping[str, int] | None = None,
    disk_fds: Mapping[int, Sequence[int]] | None = None,
) -> list[str]:
    """The command line of one guest. With `incoming`, QEMU waits for saved state (resume).
    `fds` holds each namespaced NIC's open tap, by NIC id (`vifs.open_taps`); `disk_fds` the
    open files of the disks, by index (`guest.open_disks`); a disk without is opened by path."""
    cpu = "host" if launch.accel == "kvm" else launch.cpu
    first, last = SERIAL_PORTS
    serial = (f"host={launch.vnc_listen},port={first},to={last}" if launch.vnc_listen
              else f"path={files.serial}")  # fmt: skip
    args = [
        binary,
        "-name",
        f"guest={PREFIX}{launch.uuid},debug-threads=on",
        "-uuid",
        launch.uuid,
        "-machine",
        f"{launch.machine},accel={launch.accel}",
        "-cpu",
        cpu,
        "-smp",
        str(launch.vcpus),
        "-m",
        str(launch.memory_mb),
        "-nodefaults",
        "-no-user-config",
        "-sandbox",
        SANDBOX.format("allow" if launch.user else "deny"),
        "-pidfile",
        str(files.pidfile),
        "-chardev",
        f"socket,id=qmp,path={files.qmp},server=on,wait=off",
        "-mon",
        "chardev=qmp,mode=control",
        "-chardev",
        # a free port from SERIAL_PORTS up, or the unix socket
        f"socket,id=serial0,{serial},server=on,wait=off,logfile={files.console_log},logappend=on",
        "-serial",
        "chardev:serial0",
        "-device",
        "virtio-balloon-pci,id=balloon0",
        "-rtc",
        "base=utc",
        "-no-shutdown",
    ]
    if launch.vnc:
        address = launch.vnc_listen
        if address:  # the first free display from 0 up (port 5900 up): QEMU picks it
            address = f"[{address}]" if ":" in address else address
        args += ["-vga", "std", "-vnc", f"{address}:0,to=99" if address else f"unix:{files.vnc}"]
    else:
        args += ["-display", "none"]
    for index, port in enumerate(hotplug_ports(launch)):
        args += ["-device", f"pcie-root-port,id={port},chassis={index + 1},bus=pcie.0"]
    if any(d.bus == "scsi" for d in launch.disks):
        args += ["-device", "virtio-scsi-pci,id=scsi0"]
    for index, disk in enumerate(launch.disks):
        args += _disk_args(disk, index, launch.machine, (disk_fds or {}).get(index, ()))
    for index, nic in enumerate(launch.nics):
        nid = nic.id or f"net{index}"
        options = netdev(replace(nic, id=nid), index, fds or {})
        args += [
            "-netdev",
            ",".join([options.pop("type")] + [f"{k}={v}" for k, v in options.items()]),
        ]
        device = _NIC_DEVICES.get(nic.model, "virtio-net-pci")
        bus = f",bus={nic.port}" if nic.port else ""
        args += ["-device", f"{device},netdev={nid},mac={nic.mac},id=dev-{nid}{bus}"]
    if launch.kernel:
        args += ["-kernel", launch.kernel]
        if launch.ramdisk:
            args += ["-initrd", launch.ramdisk]
        args += ["-append", launch.cmdline or "console=ttyS0"]
    if launch.user:
        args += ["-runas", launch.user]
    if incoming:
        args += ["-incoming", "defer"]
    return args
