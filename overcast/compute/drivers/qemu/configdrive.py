"""The config drive: an ISO 9660 image labelled `config-2` holding the instance's metadata
files (`openstack/latest/meta_data.json`, `user_data`, ..., `ec2/latest/...`), as cloud-init
and CirrOS read it. The files come made (`compute.metadata` writes them); this only packs them.
Called by `guests` at build and rebuild.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pycdlib

from overcast.common import files as common_files

LABEL = "config-2"


def _build(files: dict[str, bytes]) -> bytes:
    # Level 4 (ISO 9660:1999) keeps the real names; Rock Ridge and Joliet carry them too.
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident=LABEL)
    made: set[str] = set()
    for path in sorted(files):
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            d = "/".join(parts[:depth])
            if d not in made:
                made.add(d)
                iso.add_directory("/" + d, rr_name=parts[depth - 1], joliet_path="/" + d)
        data = files[path]
        iso.add_fp(
            io.BytesIO(data), len(data), "/" + path, rr_name=parts[-1], joliet_path="/" + path
        )
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


async def write(dest: Path, files: dict[str, bytes]) -> None:
    data = await asyncio.to_thread(_build, files)
    await asyncio.to_thread(common_files.atomic_write, dest, data)
