"""Running a program inside a network namespace (`nsenter --net`), its output returned and its
failure mapped to `DriverError`: how the driver runs `nft` (see `nft`), `conntrack` and
`sysctl` in its namespaces."""

from __future__ import annotations

import asyncio

from overcast.common import netns
from overcast.network.drivers import DriverError


async def run(namespace: str, argv: list[str], stdin: str = "", check: bool = True) -> str:
    """Run `argv` in `namespace` (a name under /run/netns) and return its standard output."""
    proc = await asyncio.create_subprocess_exec(
        "nsenter",
        f"--net={netns.RUN_DIR / namespace}",
        *argv,
        # Only a program that reads is given a pipe: writing to one that exited at once
        # fails under uvloop.
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin.encode() if stdin else None)
    if check and proc.returncode != 0:
        command = " ".join(argv[:4])
        raise DriverError(f"{command} in {namespace}: {err.decode().strip()[:2000]}")
    return out.decode()
