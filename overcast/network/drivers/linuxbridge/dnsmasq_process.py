"""The dnsmasq of one network's DHCP as a process: found by its pid file and command line (a
recycled pid is never taken for it), whether it runs in the namespace that now bears the
network's name, signalled, stopped, and started detached in that namespace (it daemonizes, so
guests keep their leases while Overcast is down or restarting). Called by `dhcp`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from overcast.common import netns as common_netns
from overcast.network.drivers import DriverError
from overcast.network.drivers.linuxbridge import names


def pid(pidfile: Path, network_id: str) -> int | None:
    try:
        found = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{found}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return found if network_id.encode() in cmdline and b"dnsmasq" in cmdline else None


def state(pidfile: Path, network_id: str) -> str:
    """`running`; `elsewhere`: running in a namespace that no longer bears its name (one was
    made anew since); or `stopped`."""
    found = pid(pidfile, network_id)
    if found is None:
        return "stopped"
    try:
        inside = os.stat(f"/proc/{found}/ns/net").st_ino
        named = os.stat(common_netns.RUN_DIR / names.dhcp_namespace(network_id)).st_ino
    except OSError:
        return "stopped"
    return "running" if inside == named else "elsewhere"


def send(pidfile: Path, network_id: str, sig: signal.Signals) -> None:
    found = pid(pidfile, network_id)
    if found is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(found, sig)


async def stop(pidfile: Path, network_id: str) -> None:
    """SIGTERM until it is gone (it removes its pid file), SIGKILL after 5 s."""
    for _ in range(100):
        found = pid(pidfile, network_id)
        if found is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(found, signal.SIGTERM)
        await asyncio.sleep(0.05)
    send(pidfile, network_id, signal.SIGKILL)


async def start(namespace: str, command: list[str]) -> None:
    """dnsmasq in `namespace`, detached: it daemonizes, so only its parent is waited for."""
    proc = await asyncio.create_subprocess_exec(
        "nsenter", f"--net={common_netns.RUN_DIR / namespace}", *command, "--user=root",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    _, err = await proc.communicate()
    if proc.returncode:
        raise DriverError(f"dnsmasq in {namespace}: {err.decode(errors='replace').strip()}")
