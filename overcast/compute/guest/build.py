"""`ensure(directory)`: the guest image, built once and kept until its inputs change (the
Debian package versions, the files in `files/` and this package's code). Called by
`overcast image build` and by compute when `overcast up` registers its default image.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overcast.compute.guest import disk, initramfs, packages, rootfs

NAME = "overcast-guest"
IMAGE_FILE = f"{NAME}.qcow2"
STAMP_FILE = f"{NAME}.json"


@dataclass(frozen=True)
class Built:
    path: Path
    key: str  # what the image was built from, hashed
    packages: dict[str, str]  # name -> version
    kernel: str
    built: bool  # False when the cached image was reused


def ensure(
    directory: Path, force: bool = False, say: Callable[[str], None] = lambda _: None
) -> Built:
    """The guest image in `directory`, built when missing or out of date (one builder at a
    time: a second caller waits for the first and reuses its image)."""
    directory.mkdir(parents=True, exist_ok=True)
    target, stamp = directory / IMAGE_FILE, directory / STAMP_FILE
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = _read_stamp(stamp)
        lists = packages.lists_fingerprint()
        if current.get("lists") == lists and isinstance(current.get("resolved"), list):
            resolved = [packages.Package(*p) for p in current["resolved"]]
        else:
            resolved = packages.resolve()
        versions = {p.name: p.version for p in resolved}
        key = _key(versions)
        if not force and target.exists() and current.get("key") == key:
            return Built(target, key, versions, current.get("kernel", ""), built=False)
        disk.check_tools()
        say(f"building the guest image {target} from Debian packages (once; about a minute)")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=directory, prefix=".build-") as scratch:
            kernel = _build(resolved, directory / "debs", Path(scratch), target)
        _write_atomic(
            stamp,
            json.dumps(
                {
                    "key": key,
                    "packages": versions,
                    "kernel": kernel,
                    "built_at": time.time(),
                    "lists": lists,
                    "resolved": [[p.name, p.version, p.filename] for p in resolved],
                },
                indent=1,
            ).encode(),
        )
        say(
            f"guest image ready: {target} ({target.stat().st_size >> 20} MiB, "
            f"kernel {kernel}, {time.monotonic() - started:.0f} s)"
        )
        return Built(target, key, versions, kernel, built=True)


def _build(resolved: list[packages.Package], debs_dir: Path, work: Path, target: Path) -> str:
    debs = packages.fetch(resolved, debs_dir)
    unpacked = {name: packages.unpack(deb, work / "pkg" / name) for name, deb in debs.items()}
    kernel_pkg = next(
        p
        for n, p in unpacked.items()
        if n.startswith("linux-image-") and any(p.glob("boot/vmlinuz-*"))
    )
    kernel = rootfs.kernel(kernel_pkg)
    libraries = [p for n, p in unpacked.items() if not n.startswith("linux-image-")]
    root = work / "root"
    rootfs.assemble(
        root,
        unpacked["busybox-static"],
        unpacked["dropbear-bin"],
        unpacked["e2fsprogs"],
        libraries,
    )
    initrd = work / "initrd.img"
    initramfs.write(initrd, unpacked["busybox-static"] / "bin" / "busybox", kernel)
    partial = target.with_name(f".{target.name}.partial")
    disk.write(partial, work, root, kernel.vmlinuz, initrd)
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(target)
    return kernel.version


def _key(versions: dict[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode())
    here = Path(__file__).parent
    for path in sorted([*here.glob("*.py"), *(here / "files").iterdir()]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _read_stamp(stamp: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(stamp.read_text()))
    except (OSError, ValueError):
        return {}


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
