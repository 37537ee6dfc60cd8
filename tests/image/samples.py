"""Small disk images built byte by byte, so the tests need no qemu-img.

Each builder lays out real headers as the format's specification does. qcow2, vmdk, vhd and
vdi are complete empty images that `qemu-img info` accepts (checked by hand when written); vhdx
has only the parts the inspector reads (file id, region table, metadata table).
"""

from __future__ import annotations

import struct
import uuid

MIB = 1 << 20


# A fixed disk id: samples must be the same in every pytest worker, as their test ids hold them.
_SAMPLE_ID = uuid.UUID("6f766572-6361-7374-2d73-616d706c6521").bytes


def qcow2(
    virtual_size: int = 16 * MIB,
    *,
    backing: str | None = None,
    data_file: str | None = None,
    version: int = 3,
) -> bytes:
    """A valid empty qcow2: header, refcount table and block, L1 table (64 KiB clusters)."""
    cluster = 1 << 16
    l1_entries = max(1, -(-virtual_size // (cluster * (cluster // 8))))
    header_len = 104 if version == 3 else 72
    incompatible = (1 << 2) if data_file else 0
    fields = struct.pack(
        ">4sIQIIQIIQQIIQ",
        b"QFI\xfb",
        version,
        0,  # backing file offset, set below
        0,  # backing file size
        16,  # cluster bits
        virtual_size,
        0,  # no encryption
        l1_entries,
        3 * cluster,  # L1 table
        1 * cluster,  # refcount table
        1,  # refcount table clusters
        0,  # snapshots
        0,
    )
    if version == 3:
        fields += struct.pack(">QQQII", incompatible, 0, 0, 4, header_len)
    extensions = b""
    if data_file:
        name = data_file.encode()
        extensions += struct.pack(">II", 0x44415441, len(name)) + name.ljust(
            -(-len(name) // 8) * 8, b"\0"
        )
    extensions += struct.pack(">II", 0, 0)
    head = bytearray(fields + extensions)
    if backing:
        name = backing.encode()
        offset = len(head)
        head += name
        struct.pack_into(">QI", head, 8, offset, len(name))
    image = bytearray(4 * cluster)
    image[: len(head)] = head
    struct.pack_into(">Q", image, cluster, 2 * cluster)  # refcount table -> block
    for index in range(4):  # clusters 0-3 are in use
        struct.pack_into(">H", image, 2 * cluster + 2 * index, 1)
    return bytes(image)


def vmdk(
    virtual_size: int = 16 * MIB,
    *,
    create_type: str = "monolithicSparse",
    extent: str = 'RW {sectors} SPARSE "disk.vmdk"',
) -> bytes:
    """A sparse vmdk with its descriptor embedded at sector 1."""
    sectors = virtual_size // 512
    descriptor = (
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
        f'createType="{create_type}"\n\n# Extent description\n'
        f"{extent.format(sectors=sectors)}\n\n"
        '# The Disk Data Base\nddb.virtualHWVersion = "4"\nddb.adapterType = "ide"\n'
    ).encode()
    header = struct.pack(
        "<4sIIQQQQIQQQ?cccc",
        b"KDMV",
        1,
        3,
        sectors,
        128,
        1,
        20,
        512,
        0,
        21,
        128,
        False,
        b"\n",
        b" ",
        b"\r",
        b"\n",
    )
    out = bytearray(128 * 512)
    out[: len(header)] = header
    out[512 : 512 + len(descriptor)] = descriptor
    return bytes(out)


def vmdk_descriptor(path: str = "/etc/passwd") -> bytes:
    """A bare text descriptor whose extent is a host file: the classic vmdk attack."""
    return (
        f'# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\nRW 2048 FLAT "{path}" 0\n'
    ).encode()


def _checksum(block: bytearray, at: int) -> None:
    struct.pack_into(">I", block, at, ~sum(block) & 0xFFFFFFFF)


def _vhd_footer(virtual_size: int, disk_type: int) -> bytes:
    footer = bytearray(512)
    data_offset = 512 if disk_type != 2 else 2**64 - 1
    struct.pack_into(
        ">8sIIQI4sI4s",
        footer,
        0,
        b"conectix",
        2,
        0x10000,
        data_offset,
        0,
        b"qem2",
        0x50000,
        b"Wi2k",
    )
    struct.pack_into(">QQ", footer, 40, virtual_size, virtual_size)
    struct.pack_into(">HBB", footer, 56, 65535, 16, 255)
    struct.pack_into(">I", footer, 60, disk_type)
    footer[68:84] = _SAMPLE_ID
    _checksum(footer, 64)
    return bytes(footer)


def vhd_fixed(virtual_size: int = 1 * MIB) -> bytes:
    return bytes(virtual_size) + _vhd_footer(virtual_size, 2)


def vhd_dynamic(virtual_size: int = 16 * MIB, *, differencing: bool = False) -> bytes:
    """Footer copy, dynamic disk header, an empty block table, footer."""
    footer = _vhd_footer(virtual_size, 4 if differencing else 3)
    blocks = virtual_size // (2 * MIB)
    header = bytearray(1024)
    struct.pack_into(
        ">8sQQIIII", header, 0, b"cxsparse", 2**64 - 1, 1536, 0x10000, blocks, 2 * MIB, 0
    )
    _checksum(header, 36)
    table = b"\xff" * (-(-blocks * 4 // 512) * 512)
    return footer + bytes(header) + table + footer


def vhdx(virtual_size: int = 16 * MIB, *, parent: bool = False) -> bytes:
    """A vhdx with a region table and a metadata table naming the virtual disk size."""
    guid = lambda text: uuid.UUID(text).bytes_le  # noqa: E731
    meta_at = 320 * 1024
    out = bytearray(meta_at + 64 * 1024)
    out[:8] = b"vhdxfile"
    table = 192 * 1024
    out[table : table + 4] = b"regi"
    struct.pack_into("<I", out, table + 8, 1)
    entry = guid("8B7CA206-4790-4B9A-B8FE-575F050F886E") + struct.pack(
        "<QII", meta_at, 64 * 1024, 1
    )
    out[table + 16 : table + 48] = entry
    out[meta_at : meta_at + 8] = b"metadata"
    items = [(guid("2FA54224-CD1B-4876-B211-5DBED83BF4B8"), 4096, 8)]
    if parent:
        items.append((guid("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C"), 8192, 64))
    struct.pack_into("<H", out, meta_at + 10, len(items))
    for i, (item, offset, length) in enumerate(items):
        out[meta_at + 32 + 32 * i : meta_at + 64 + 32 * i] = item + struct.pack(
            "<IIII", offset, length, 0, 0
        )
    struct.pack_into("<Q", out, meta_at + 4096, virtual_size)
    return bytes(out)


def iso(blocks: int = 64) -> bytes:
    out = bytearray(blocks * 2048)
    pvd = 16 * 2048
    out[pvd] = 1
    out[pvd + 1 : pvd + 6] = b"CD001"
    struct.pack_into("<I", out, pvd + 80, blocks)
    struct.pack_into("<H", out, pvd + 128, 2048)
    return bytes(out)


def vdi(virtual_size: int = 16 * MIB, *, differencing: bool = False) -> bytes:
    """A VirtualBox 1.1 image: header, an empty block map (1 MiB blocks), no data."""
    blocks = virtual_size // MIB
    out = bytearray(1024 + -(-blocks * 4 // 512) * 512)
    out[:40] = b"<<< Oracle VM VirtualBox Disk Image >>>\n"
    struct.pack_into("<IIII", out, 64, 0xBEDA107F, 0x00010001, 400, 4 if differencing else 1)
    struct.pack_into("<II", out, 340, 512, 1024)  # block map, data
    struct.pack_into("<IIII", out, 348, 0, 0, 0, 512)  # legacy geometry: 512-byte sectors
    struct.pack_into("<QIIII", out, 368, virtual_size, MIB, 0, blocks, 0)
    out[392:408] = _SAMPLE_ID
    out[512 : 512 + 4 * blocks] = b"\xff" * (4 * blocks)
    return bytes(out)


def mbr_disk(size: int = 1 * MIB) -> bytes:
    out = bytearray(size)
    out[510:512] = b"\x55\xaa"
    return bytes(out)
