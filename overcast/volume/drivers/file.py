"""The `file` volume driver: each volume a qcow2 (or raw) file under the back end's directory,
made and copied with qemu-img, thin by default (zeros are never written).

Files are written beside their final name and renamed into place after an fsync, so a crash
leaves a volume whole or absent. A hypervisor on this node opens the file itself; one on
another node gets an NBD export of it (`nbd.Exports`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from overcast.common import errors
from overcast.volume.drivers import (
    Capabilities,
    GiB,
    PoolStats,
    SnapshotRef,
    VolumeDriver,
    VolumeRef,
    fuse,
    nbd,
    qemu_img,
)


class Driver(VolumeDriver):
    capabilities = Capabilities(
        thin_provisioning=True,
        thick_provisioning=True,
        online_extend=True,
        multiattach=True,
        storage_protocol="nbd",
    )

    @property
    def root(self) -> Path:
        assert self.settings.path is not None, "the agent gives every back end its path"
        return self.settings.path

    @property
    def fmt(self) -> str:
        return self.settings.volume_format

    def _path(self, name: str) -> Path:
        return self.root / name

    def _tmp(self, name: str) -> Path:
        return self.root / f".{name}.tmp"

    async def setup(self) -> None:
        if self.fmt not in ("qcow2", "raw"):
            raise errors.ServiceUnavailable(f"volume_format {self.fmt!r} is not qcow2 or raw")
        if not qemu_img.available():
            raise errors.ServiceUnavailable("qemu-img is not installed")
        await asyncio.to_thread(self._prepare)
        self._template_lock = asyncio.Lock()
        self._templates: dict[str, bytes] = {}  # empty images by format and size, a few KiB
        self.exports = nbd.Exports(
            self.callbacks.state_dir() / "nbd", self.callbacks.export_address()
        )

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for leftover in self.root.glob(".*.tmp"):  # an interrupted write
            leftover.unlink(missing_ok=True)
        for view in self.root.glob(".*.view"):  # a backup's view when the process died
            fuse.clear_stale(view)

    async def _into_place(self, name: str, make: Any) -> str:
        """Run `make(tmp)` and rename `tmp` to `name` once it is on disk."""
        path, tmp = self._path(name), self._tmp(name)
        tmp.unlink(missing_ok=True)
        try:
            await make(tmp)
            await asyncio.to_thread(qemu_img.sync_into_place, tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return str(path)

    async def create_volume(self, volume: VolumeRef) -> str:
        return await self._into_place(volume.name, lambda tmp: self._blank(tmp, volume.size))

    async def _blank(self, dest: Path, size: int) -> None:
        """An empty image of `size` GiB at `dest`. A thin raw file is a sparse file; anything
        else is a copy of an empty image qemu-img made once for that size (an empty qcow2 of a
        given size is always the same few hundred KiB), so a burst of creates spawns no
        processes."""
        thin = self.settings.thin_provisioning
        if self.fmt == "raw" and thin:
            await asyncio.to_thread(_sparse, dest, size * GiB)
            return
        if not thin:
            await qemu_img.create(dest, self.fmt, size * GiB, thin)
            return
        template = self.root / ".templates" / f"{self.fmt}-{size}"
        data = self._templates.get(template.name)
        if data is None:
            async with self._template_lock:
                if not template.exists():
                    template.parent.mkdir(exist_ok=True)
                    tmp = template.with_name(f"{template.name}.tmp")
                    await qemu_img.create(tmp, self.fmt, size * GiB, thin)
                    await asyncio.to_thread(qemu_img.sync_into_place, tmp, template)
                data = self._templates[template.name] = await asyncio.to_thread(template.read_bytes)
        await asyncio.to_thread(_write_sparse, dest, data)

    async def delete_volume(self, volume: VolumeRef) -> None:
        await self.exports.remove(volume.data_id)
        self._path(volume.name).unlink(missing_ok=True)

    async def extend_volume(self, volume: VolumeRef, new_size: int) -> bool:
        path, size = self._path(volume.name), new_size * GiB
        if await asyncio.to_thread(qemu_img.virtual_size, path) >= size:
            return True
        try:
            if await self.exports.resize(volume.data_id, size):
                return True
            if self.fmt == "raw":  # a raw file is all data: growing it is safe while open
                await asyncio.to_thread(_grow, path, size)
            else:
                await qemu_img.resize(path, self.fmt, size)
        except errors.Conflict:  # open in a guest's QEMU: here (its image lock), or over NBD
            return False
        return True

    async def _copy(self, source: Path, name: str, size: int) -> str:
        async def make(tmp: Path) -> None:
            await qemu_img.convert(source, self.fmt, tmp, self.fmt)
            if await asyncio.to_thread(qemu_img.virtual_size, tmp) < size * GiB:
                await qemu_img.resize(tmp, self.fmt, size * GiB)

        return await self._into_place(name, make)

    async def create_snapshot(self, snapshot: SnapshotRef, volume: VolumeRef) -> str:
        if self._path(snapshot.name).exists():
            return str(self._path(snapshot.name))
        return await self._copy(self._existing(volume.name), snapshot.name, volume.size)

    async def delete_snapshot(self, snapshot: SnapshotRef) -> None:
        self._path(snapshot.name).unlink(missing_ok=True)

    async def create_volume_from_snapshot(self, volume: VolumeRef, snapshot: SnapshotRef) -> str:
        return await self._copy(self._existing(snapshot.name), volume.name, volume.size)

    async def revert_to_snapshot(self, volume: VolumeRef, snapshot: SnapshotRef) -> None:
        await self._copy(self._existing(snapshot.name), volume.name, volume.size)

    async def create_cloned_volume(self, volume: VolumeRef, source: VolumeRef) -> str:
        return await self._copy(self._existing(source.name), volume.name, volume.size)

    def _existing(self, name: str) -> Path:
        path = self._path(name)
        if not path.exists():
            raise errors.NotFound(f"{name} is not on back end {self.name}")
        return path

    async def copy_image_to_volume(self, volume: VolumeRef, image: Path, image_format: str) -> None:
        found = await qemu_img.info(image, image_format)
        if int(found["virtual-size"]) > volume.size * GiB:
            raise errors.BadRequest(
                f"Image virtual size is {int(found['virtual-size']) / GiB:.2f} GiB and doesn't"
                f" fit in a volume of size {volume.size} GiB."
            )

        async def make(tmp: Path) -> None:
            await qemu_img.convert(image, image_format, tmp, self.fmt)
            await qemu_img.resize(tmp, self.fmt, volume.size * GiB)

        await self._into_place(volume.name, make)

    async def copy_volume_to_image(self, volume: VolumeRef, dest: Path, disk_format: str) -> None:
        await qemu_img.convert(self._existing(volume.name), self.fmt, dest, disk_format)

    async def copy_volume_to(self, volume: VolumeRef, connection: dict[str, Any]) -> None:
        data = connection.get("data") or {}
        kind = connection.get("driver_volume_type")
        if kind == "local":
            target, fmt = str(data["device_path"]), str(data.get("format") or "raw")
        elif kind == "nbd":
            target, fmt = f"nbd://{data['host']}:{data['port']}/{data['name']}", "raw"
        else:
            raise errors.NotSupported(f"the file driver cannot write to a {kind} connection")
        await qemu_img.convert_into(self._existing(volume.name), self.fmt, target, fmt)

    @contextlib.asynccontextmanager
    async def open_raw(self, volume: VolumeRef, write: bool = False) -> AsyncIterator[Path]:
        path = self._existing(volume.name)
        if self.fmt == "raw":
            yield path
            return
        if fuse.available():
            view = self.root / f".{volume.name}.view"
            async with fuse.raw_view(path, self.fmt, view, writable=write) as raw:
                yield raw
            return
        # Without FUSE: a raw copy, written back into place afterwards.
        raw = self.root / f".{volume.name}.raw.tmp"
        try:
            if write:
                await qemu_img.create(raw, "raw", volume.size * GiB)
            else:
                await qemu_img.convert(path, self.fmt, raw, "raw")
            yield raw
            if write:
                await self._into_place(
                    volume.name, lambda tmp: qemu_img.convert(raw, "raw", tmp, self.fmt)
                )
        finally:
            raw.unlink(missing_ok=True)

    async def initialize_connection(
        self, volume: VolumeRef, connector: dict[str, Any]
    ) -> dict[str, Any]:
        path = self._existing(volume.name)
        host = connector.get("host")
        if not host or host == self.callbacks.node():
            return {
                "driver_volume_type": "local",
                "data": {"device_path": str(path), "format": self.fmt, "volume_id": volume.id},
            }
        export = await self.exports.add(volume.data_id, path, self.fmt, _connector_id(connector))
        return {
            "driver_volume_type": "nbd",
            "data": {**export.connection(), "volume_id": volume.id},
        }

    async def terminate_connection(self, volume: VolumeRef, connector: dict[str, Any]) -> None:
        host = connector.get("host")
        if host and host != self.callbacks.node():
            await self.exports.remove(volume.data_id, _connector_id(connector))
        else:  # a QEMU here let the file go: an export of it must not trust what it read
            await self.exports.refresh(volume.data_id, self._path(volume.name), self.fmt)

    async def get_stats(self) -> list[PoolStats]:
        return [await asyncio.to_thread(self._stats)]

    def _stats(self) -> PoolStats:
        usage = shutil.disk_usage(self.root)
        total = usage.total / GiB
        free = usage.free / GiB
        if self.settings.total_capacity_gb is not None:
            total = min(total, self.settings.total_capacity_gb)
            used = sum(p.stat().st_blocks * 512 for p in self.root.glob("*-*")) / GiB
            free = min(free, max(0.0, total - used))
        provisioned = 0
        for path in self.root.glob("volume-*"):
            with contextlib.suppress(OSError):
                provisioned += qemu_img.virtual_size(path)
        return PoolStats(
            pool_name=self.name,
            total_capacity_gb=round(total, 2),
            free_capacity_gb=round(free, 2),
            provisioned_capacity_gb=round(provisioned / GiB, 2),
            max_over_subscription_ratio=self.settings.max_over_subscription_ratio,
            reserved_percentage=self.settings.reserved_percentage,
            thin_provisioning_support=self.settings.thin_provisioning,
            thick_provisioning_support=not self.settings.thin_provisioning,
            multiattach=True,
            storage_protocol="nbd",
            extra={"volume_format": self.fmt, "online_extend_support": True},
        )

    async def manage_existing(
        self, volume: VolumeRef, reference: dict[str, Any]
    ) -> tuple[str, int]:
        source = reference.get("source-name") or reference.get("name")
        if not source or "/" in str(source):
            raise errors.BadRequest(
                "Manage needs a reference {'source-name': FILE} in the back end."
            )
        path = self._existing(str(source))
        size = await asyncio.to_thread(qemu_img.virtual_size, path)
        target = self._path(volume.name)
        await asyncio.to_thread(os.replace, path, target)
        return str(target), max(1, -(-size // GiB))

    async def list_manageable(self) -> list[dict[str, Any]]:
        def scan() -> list[dict[str, Any]]:
            found = []
            for path in sorted(self.root.iterdir()):
                if path.name.startswith((".", "volume-", "snapshot-")) or not path.is_file():
                    continue
                with contextlib.suppress(OSError):
                    size = qemu_img.virtual_size(path)
                    found.append({"name": path.name, "size": max(1, -(-size // GiB))})
            return found

        return await asyncio.to_thread(scan)

    async def unmanage(self, volume: VolumeRef) -> None:
        await self.exports.remove(volume.data_id)
        path = self._path(volume.name)
        if path.exists():
            await asyncio.to_thread(os.replace, path, self._path(f"unmanaged-{volume.name}"))


def _write_sparse(path: Path, data: bytes, block: int = 4096) -> None:
    """`data` at `path`, its zero blocks left as holes (an empty qcow2 is mostly zeros)."""
    with path.open("wb") as handle:
        for offset in range(0, len(data), block):
            chunk = data[offset : offset + block]
            if chunk.count(0) != len(chunk):
                handle.seek(offset)
                handle.write(chunk)
        handle.truncate(len(data))


def _grow(path: Path, size: int) -> None:
    with path.open("r+b") as handle:
        handle.truncate(size)
        os.fsync(handle.fileno())


def _sparse(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        handle.truncate(size)


def _connector_id(connector: dict[str, Any]) -> str:
    return str(connector.get("initiator") or connector.get("host"))
