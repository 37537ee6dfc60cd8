"""A guest's QEMU command line, from a `Launch`: the typed, saved description of one guest
(CPU, memory, machine, disks, NICs, kernel) that survives restarts in `launch.json`.

Built by `guests` from an instance spec; turned into argv here and nowhere else. The guest gets
only its own files: every path on the command line is inside its directory, except the
read-only base image its root overlay names, which the format inspector has checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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


@dataclass
class Nic:
    mac: str
    model: str = "virtio"  # virtio, e1000, rtl8139
    tap: str | None = None  # the tap QEMU makes (the port binding's devname)
    id: str = ""
    bridge: str | None = None  # the dataplane's bridge the tap joins, for bridge bindings
    port_id: str = ""  # the network service's port
    port: str | None = None  # the hot-plug root port it was plugged into (q35)


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
    user: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Launch:
        data = dict(data)
        data["disks"] = [Disk(**d) for d in data.get("disks", [])]
        data["nics"] = [Nic(**n) for n in data.get("nics", [])]
        return cls(**data)


HOTPLUG_PORTS = 4  # q35 hot-plugs into PCIe root ports, made free at launch


def hotplug_ports(launch: Launch) -> list[str]:
    return [f"hp{i}" for i in range(HOTPLUG_PORTS)] if "q35" in launch.machine else []


_NIC_DEVICES = {"virtio": "virtio-net-pci", "e1000": "e1000", "rtl8139": "rtl8139"}


def _disk_args(disk: Disk, index: int, machine: str) -> list[str]:
    node = disk.node or f"disk{index}"
    drive = f"file={disk.path},format={disk.format},if=none,id={node},cache=writeback"
    drive += ",discard=unmap" if disk.media == "disk" else ",media=cdrom"
    if disk.readonly:
        drive += ",readonly=on"
    args = ["-drive", drive]
    serial = f",serial={disk.serial}" if disk.serial else ""
    if disk.media == "cdrom":
        args += ["-device", f"ide-cd,drive={node},id=dev-{node}"]
    elif disk.bus == "virtio":
        port = f",bus={disk.port}" if disk.port else ""
        args += ["-device", f"virtio-blk-pci,drive={node},id=dev-{node}{serial}{port}"]
    elif disk.bus == "scsi":
        args += ["-device", f"scsi-hd,drive={node},id=dev-{node},bus=scsi0.0{serial}"]
    else:  # ide or sata: the machine's own controller
        args += ["-device", f"ide-hd,drive={node},id=dev-{node}{serial}"]
    if index == 0 and disk.media == "disk":
        args[-1] += ",bootindex=1"
    elif disk.media == "cdrom":
        args[-1] += ",bootindex=0"
    return args


def argv(binary: str, launch: Launch, files: GuestFiles, incoming: bool = False) -> list[str]:
    """The command line of one guest. With `incoming`, QEMU waits for saved state (resume)."""
    cpu = "host" if launch.accel == "kvm" else launch.cpu
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
        f"socket,id=serial0,path={files.serial},server=on,wait=off,"
        f"logfile={files.console_log},logappend=on",
        "-serial",
        "chardev:serial0",
        "-device",
        "virtio-balloon-pci,id=balloon0",
        "-rtc",
        "base=utc",
        "-no-shutdown",
    ]
    if launch.vnc:
        args += ["-vga", "std", "-vnc", f"unix:{files.vnc}"]
    else:
        args += ["-display", "none"]
    for index, port in enumerate(hotplug_ports(launch)):
        args += ["-device", f"pcie-root-port,id={port},chassis={index + 1},bus=pcie.0"]
    if any(d.bus == "scsi" for d in launch.disks):
        args += ["-device", "virtio-scsi-pci,id=scsi0"]
    for index, disk in enumerate(launch.disks):
        args += _disk_args(disk, index, launch.machine)
    for index, nic in enumerate(launch.nics):
        nid = nic.id or f"net{index}"
        args += ["-netdev", f"tap,id={nid},ifname={nic.tap},script=no,downscript=no"]
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
