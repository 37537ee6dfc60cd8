"""Making a guest's files from an instance spec: the root disk (an overlay on the checked base
image, grown to the flavor; a blank disk under an ISO; or a kernel and ramdisk booted directly;
a volume-backed server's root volume, first), ephemeral and swap disks, the config drive, and the `Launch` that describes the machine.

Called by the driver's spawn, rescue and resize. Image properties honoured: hw_disk_bus,
hw_vif_model, hw_machine_type, hw_cdrom_bus, os_command_line.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from overcast.common import errors
from overcast.common.config import QemuSettings
from overcast.compute import drivers
from overcast.compute.drivers.qemu import configdrive, disks, inspector
from overcast.compute.drivers.qemu.files import GuestFiles
from overcast.compute.drivers.qemu.launch import Disk, Launch, Nic

GiB = disks.GiB
_DISK_BUSES = {"virtio", "scsi", "ide", "sata"}
_VIF_MODELS = {"virtio", "e1000", "rtl8139"}
_MACHINES = {"pc", "q35", "microvm"}
_KERNEL_FORMATS = {"aki", "ari"}


def properties(image: dict[str, Any]) -> dict[str, Any]:
    """Image properties, whether the image service nests them or not (Glance v2 does not)."""
    return {**image, **(image.get("properties") or {})}


def machine_for(props: dict[str, Any], settings: QemuSettings) -> str:
    machine = str(props.get("hw_machine_type") or settings.machine_type)
    family = machine.split("-")[0] if machine.startswith("pc-") else machine
    if family not in _MACHINES and not machine.startswith(("pc-q35-", "pc-i440fx-")):
        raise errors.BadRequest(f"hw_machine_type {machine!r} is not supported.")
    return machine


def _choice(props: dict[str, Any], key: str, allowed: set[str], default: str) -> str:
    value = str(props.get(key) or default)
    if value not in allowed:
        raise errors.BadRequest(f"{key} {value!r} is not one of {sorted(allowed)}.")
    return value


async def root_disk(
    spec: drivers.InstanceSpec, files: GuestFiles, dest: Path | None = None
) -> tuple[list[Disk], bool]:
    """The root disk from the spec's image at `dest` (default: the guest's disk); (disks, boots
    from cdrom). An ISO becomes a CD-ROM with a blank disk; a disk image an overlay."""
    dest = dest or files.disk
    flavor = spec.flavor
    props = properties(spec.image)
    bus = _choice(props, "hw_disk_bus", _DISK_BUSES, "virtio")
    root_size = int(flavor.get("root_gb") or 0) * GiB
    if not spec.image_path:  # no image and no root volume (a driver test): a blank root
        await disks.create_blank(dest, root_size or GiB)
        return [Disk(str(dest), "qcow2", bus, node="disk0")], False
    base = Path(spec.image_path)
    found = await inspector.inspect(base)
    declared = str(spec.image.get("disk_format") or found.format)
    if declared in ("raw", "qcow2", "iso") and declared != found.format:
        raise errors.BadRequest(
            f"Image {spec.image.get('id')} says disk_format {declared} but its data is "
            f"{found.format}."
        )
    if found.format == "iso":
        await disks.create_blank(dest, root_size or GiB)
        cdrom = Disk(str(base), "raw", "ide", "cdrom", readonly=True, node="cd0")
        return [Disk(str(dest), "qcow2", bus, node="disk0"), cdrom], True
    if root_size and found.virtual_size > root_size:
        raise errors.BadRequest(
            f"Flavor's disk is too small for requested image. Flavor disk is {root_size} "
            f"bytes, image is {found.virtual_size} bytes."
        )
    if not props.get("kernel_id"):
        await disks.check_bootable(base, found.format)
    await disks.create_root(base, found.format, dest, max(root_size, found.virtual_size))
    return [Disk(str(dest), "qcow2", bus, node="disk0")], False


async def extra_disks(spec: drivers.InstanceSpec, files: GuestFiles, bus: str) -> list[Disk]:
    out: list[Disk] = []
    ephemeral = int(spec.flavor.get("ephemeral_gb") or 0)
    if ephemeral:
        await disks.create_blank(files.ephemeral, ephemeral * GiB)
        out.append(Disk(str(files.ephemeral), "qcow2", bus, node="eph0"))
    swap = int(spec.flavor.get("swap") or 0)
    if swap:
        await disks.create_swap(files.swap, swap)
        out.append(Disk(str(files.swap), "raw", bus, node="swap0"))
    return out


VOLUME_NODE = "vol-"  # how a volume's node name begins


def volume_node(connection_info: dict[str, Any]) -> str:
    data = connection_info.get("data") or {}
    return f"{VOLUME_NODE}{str(data.get('volume_id', 'unknown'))[:8]}"


def volume_disk(connection_info: dict[str, Any], device: str | None = None) -> Disk:
    """A volume as a guest disk: a local file, or an NBD export of the volume service."""
    kind = connection_info.get("driver_volume_type")
    data = connection_info.get("data") or {}
    serial = str(data.get("volume_id", ""))[:20] or None
    fmt = str(data.get("format") or "raw")
    if kind == "local" and data.get("device_path"):
        path = str(data["device_path"])
    elif kind == "nbd" and data.get("host") and data.get("port"):
        path, fmt = f"nbd://{data['host']}:{data['port']}/{data.get('name', '')}", "raw"
    else:
        raise errors.NotSupported(f"volume connections of type {kind} are not supported")
    return Disk(path, fmt, "virtio", node=volume_node(connection_info), serial=serial)


def volume_disks(spec: drivers.InstanceSpec) -> list[Disk]:
    """The volumes attached at boot, in their boot order."""
    bdms = sorted(spec.block_devices, key=lambda b: (b.get("boot_index") is None,
                                                      b.get("boot_index") or 0))  # fmt: skip
    return [volume_disk(b["connection_info"], b.get("device_name"))
            for b in bdms if b.get("connection_info")]  # fmt: skip


def boots_from_volume(spec: drivers.InstanceSpec) -> bool:
    """Whether the spec maps a connected root volume (boot index 0)."""
    return any(str(b.get("boot_index")) == "0" and b.get("connection_info")
               for b in spec.block_devices)  # fmt: skip


def nic_for(vif: dict[str, Any], props: dict[str, Any], index: int) -> Nic:
    model = _choice(props, "hw_vif_model", _VIF_MODELS, "virtio")
    port = str(vif.get("port_id") or vif.get("id") or index)
    tap = str(vif.get("devname") or f"tap{port[:11]}")[:15]
    mac = str(vif.get("mac") or vif.get("address"))
    namespace = (vif.get("vif_details") or {}).get("namespace")
    return Nic(mac, model, tap, f"net{index}", vif.get("bridge"), port, namespace=namespace)


def nics(spec: drivers.InstanceSpec) -> list[Nic]:
    props = properties(spec.image)
    return [nic_for(vif, props, i) for i, vif in enumerate(spec.network_info)]


async def kernel_files(spec: drivers.InstanceSpec, files: GuestFiles) -> tuple[str, str] | None:
    """Copies of the kernel and ramdisk images in the guest's directory (kernel_id/ramdisk_id)."""
    if not spec.kernel_path:
        return None
    await asyncio.to_thread(shutil.copyfile, spec.kernel_path, files.kernel)
    ramdisk = ""
    if spec.ramdisk_path:
        await asyncio.to_thread(shutil.copyfile, spec.ramdisk_path, files.ramdisk)
        ramdisk = str(files.ramdisk)
    return str(files.kernel), ramdisk


async def make(
    spec: drivers.InstanceSpec, files: GuestFiles, settings: QemuSettings, accel: str
) -> Launch:
    """Every file of a new guest, and its Launch. The caller removes the directory on failure."""
    files.dir.mkdir(parents=True, exist_ok=True)
    files.dir.chmod(0o700)
    props = properties(spec.image)
    memory = int(spec.flavor.get("memory_mb") or 0)
    if int(spec.image.get("min_ram") or 0) > memory:
        raise errors.BadRequest("Flavor's memory is too small for requested image.")
    machine = machine_for(props, settings)
    volumes = volume_disks(spec)
    if not spec.image_path and boots_from_volume(spec):
        # Volume-backed: the root volume is the first disk, the one the firmware boots.
        roots, cdrom, volumes = volumes[:1], False, volumes[1:]
    else:
        roots, cdrom = await root_disk(spec, files)
    bus = roots[0].bus
    all_disks = roots + await extra_disks(spec, files, bus) + volumes
    if spec.config_drive or settings.force_config_drive:
        await configdrive.write(files.config_drive, spec.metadata_files)
        all_disks.append(Disk(str(files.config_drive), "raw", "virtio", readonly=True,
                              node="config"))  # fmt: skip
    kernel = await kernel_files(spec, files)
    return Launch(
        uuid=spec.uuid,
        name=spec.name,
        vcpus=int(spec.flavor.get("vcpus") or 1),
        memory_mb=memory,
        machine=machine,
        accel=accel,
        cpu=settings.cpu_model,
        disks=all_disks,
        nics=nics(spec),
        kernel=kernel[0] if kernel else None,
        ramdisk=(kernel[1] or None) if kernel else None,
        cmdline=str(props.get("os_command_line") or "console=ttyS0 root=/dev/vda"),
        boot_cdrom=cdrom,
        vnc=settings.vnc,
    )
