"""The guest's Debian packages: resolved to exact versions with apt-cache, fetched with
`apt-get download` and unpacked with `dpkg-deb -x` into a scratch tree. Nothing is installed
on the host. Called by `build`.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

# What the guest is made of. A kernel metapackage is followed to the real kernel, and a
# program to the shared libraries it needs (dependencies named lib*/zlib* or linux-image-*).
ROOTS = ("linux-image-cloud-amd64", "busybox-static", "dropbear-bin", "e2fsprogs")
_FOLLOW = re.compile(r"^(lib|zlib|linux-image-)")
LISTS = Path("/var/lib/apt/lists")


class PackageError(RuntimeError):
    """apt could not resolve or fetch a guest package."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    filename: str  # the pool path apt downloads from

    @property
    def deb_name(self) -> str:
        """The file `apt-get download` writes (an epoch's colon is written `%3a`)."""
        arch = self.filename.rsplit("_", 1)[-1].removesuffix(".deb")
        return f"{self.name}_{self.version.replace(':', '%3a')}_{arch}.deb"


def resolve(roots: tuple[str, ...] = ROOTS) -> list[Package]:
    """The packages (with their candidate versions) the guest needs, roots first. One
    apt-cache call per level of dependencies (each call reads the whole package cache)."""
    seen: dict[str, Package] = {}
    level = list(roots)
    while level:
        following: list[str] = []
        for name, fields in _show(level).items():
            seen[name] = Package(name, fields["Version"], fields["Filename"])
            depends = f"{fields.get('Pre-Depends', '')},{fields.get('Depends', '')}"
            for alternatives in depends.split(","):
                first = alternatives.split("|")[0].strip().split(" ")[0].split(":")[0]
                if first and _FOLLOW.match(first) and first not in seen:
                    following.append(first)
        level = sorted(set(following) - set(seen))
    return list(seen.values())


def lists_fingerprint(roots: tuple[str, ...] = ROOTS) -> str:
    """Changes whenever apt's package lists do (after `apt-get update`) or the roots do: while
    it stays the same, the versions `resolve` found last time still hold."""
    digest = hashlib.sha256(" ".join(roots).encode())
    for path in sorted(LISTS.glob("*Packages*")):
        info = path.stat()
        digest.update(f"{path.name} {info.st_size} {info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def fetch(packages: list[Package], into: Path) -> dict[str, Path]:
    """Each package's .deb in `into` (downloaded only when not there yet)."""
    into.mkdir(parents=True, exist_ok=True)
    debs = {p.name: into / p.deb_name for p in packages}
    missing = [f"{p.name}={p.version}" for p in packages if not debs[p.name].exists()]
    if missing:
        _run(["apt-get", "download", "-q", *missing], cwd=into)
    for name, deb in debs.items():
        if not deb.exists():
            raise PackageError(f"apt-get download left no {deb.name} for {name}")
    return debs


def unpack(deb: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    _run(["dpkg-deb", "-x", str(deb), str(into)])
    return into


def _show(names: list[str]) -> dict[str, dict[str, str]]:
    text = _run(["apt-cache", "show", "--no-all-versions", *names])
    records: dict[str, dict[str, str]] = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(": ")
            if sep and not line.startswith(" "):
                fields.setdefault(key, value.strip())
        if "Package" in fields and "Version" in fields and "Filename" in fields:
            records.setdefault(fields["Package"], fields)
    missing = [name for name in names if name not in records]
    if missing:
        raise PackageError(f"apt-cache knows no package {', '.join(missing)} (apt-get update?)")
    return records


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True)
    except FileNotFoundError as exc:
        raise PackageError(
            f"{argv[0]} is not installed: the guest build needs Debian's apt"
        ) from exc
    except subprocess.CalledProcessError as exc:
        raise PackageError(f"{' '.join(argv)} failed: {exc.stderr.strip()[-500:]}") from exc
    return done.stdout
