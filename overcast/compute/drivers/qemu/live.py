"""Live migration between hosts that share no storage, as libvirt drives QEMU for it.

The destination starts the guest's QEMU waiting for its state (`-incoming`, kept paused) over
new overlays of the same base image, and serves those disks over NBD (`receive`). The source
mirrors into them what its own overlays hold (`sync=top`: the bases are alike), migrates
memory and devices while the guest runs, and at the switch-over, with the guest stopped and the
mirrors in step, ends the mirrors and lets the migration finish (`send`), its QEMU then
stopped (`postmigrate`) till its caller, having recorded the switch-over, ends it. The
destination then stops serving its disks and lets the guest run on (`run`). Called by
`migration.Moves`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from overcast.common import errors, log
from overcast.compute.drivers.qemu.guest import Guest

LOG = log.get(__name__)


def _free_port(address: str) -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


async def receive(guest: Guest, address: str) -> dict[str, Any]:
    """Destination, once its QEMU waits (`incoming`): where the source sends the guest."""
    await guest.qmp("stop")  # during an incoming migration: do not run once the state is in
    port = _free_port(address)
    await guest.qmp("migrate-incoming", uri=f"tcp:{_host(address)}:{port}")
    return {"uri": f"tcp:{_host(address)}:{port}", **await serve_disks(guest, address)}


async def serve_disks(guest: Guest, address: str) -> dict[str, Any]:
    """The guest's own writable disks served over NBD by its QEMU (which waits, `incoming`):
    `{"nbd": [address, port], "disks": [drive ids]}`."""
    nbd = _free_port(address)
    server = {"type": "inet", "data": {"host": address, "port": str(nbd)}}
    await guest.qmp("nbd-server-start", addr=server)
    disks = []
    launch = guest.launch
    local = {d.node or f"disk{i}" for i, d in enumerate(launch.disks)
             if d.path.startswith(str(guest.files.dir)) and not d.readonly}  # fmt: skip
    for block in await guest.qmp("query-block"):
        name, inserted = block.get("device"), block.get("inserted")
        if name in local and inserted:
            await guest.qmp("block-export-add", type="nbd", id=f"exp-{name}", name=name,
                            writable=True, **{"node-name": inserted["node-name"]})  # fmt: skip
            disks.append(name)
    return {"nbd": [address, nbd], "disks": disks}


def nbd_url(target: dict[str, Any], name: str) -> str:
    host, port = target["nbd"]
    return f"nbd://{_host(host)}:{port}/{name}"


async def _jobs(guest: Guest) -> dict[str, dict[str, Any]]:
    return {job["device"]: job for job in await guest.qmp("query-block-jobs")}


async def _until(what: str, check: Any, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise errors.Timeout(f"live migration: {what} timed out")
        await asyncio.sleep(0.1)


async def _migration(guest: Guest, *done: str) -> bool:
    info = await guest.qmp("query-migrate")
    status = info.get("status")
    if status in ("failed", "cancelled"):
        raise errors.OvercastError(f"live migration failed: {info.get('error-desc', status)}")
    return status in done


async def send(guest: Guest, target: dict[str, Any], timeout: float) -> None:
    """Source: the guest to the destination that `receive` readied. On failure the guest runs
    on here, as it was."""
    mirrors = [f"mirror-{name}" for name in target["disks"]]
    switch = {"capability": "pause-before-switchover", "state": True}
    await guest.qmp("migrate-set-capabilities", capabilities=[switch])
    try:
        for name, job in zip(target["disks"], mirrors, strict=True):
            await guest.qmp("drive-mirror", device=name, target=nbd_url(target, name),
                            format="raw", sync="top", mode="existing", **{"job-id": job})  # fmt: skip

        async def mirrored() -> bool:
            jobs = await _jobs(guest)
            return all(jobs.get(job, {}).get("ready") for job in mirrors)

        await _until("copying the disks", mirrored, timeout)
        await guest.qmp("migrate", uri=target["uri"])
        await _until("copying the memory", lambda: _migration(guest, "pre-switchover"), timeout)
        for job in mirrors:  # the guest is stopped: the copies are whole, the mirrors end
            await guest.qmp("block-job-cancel", device=job)

        async def ended() -> bool:
            return not set(mirrors) & set(await _jobs(guest))

        await _until("ending the disk mirrors", ended, 60)
        await guest.qmp("migrate-continue", state="pre-switchover")
        await _until("the switch-over", lambda: _migration(guest, "completed"), 60)
    except BaseException:
        await _abandon(guest, mirrors)
        raise


_SENDING = ("setup", "active", "pre-switchover", "device", "cancelling", "wait-unplug")


async def sending(guest: Guest) -> bool:
    """Whether the guest's QEMU is sending it (its mirrors, its memory), or has sent it and
    waits, stopped (`postmigrate`): a `send` cut short by a restart of its caller."""
    status = (await guest.qmp("query-migrate")).get("status")
    if status in _SENDING or await guest.status() == "postmigrate":
        return True
    return any(job.startswith("mirror-") for job in await _jobs(guest))


async def abandon(guest: Guest) -> None:
    """A `send` cut short by a restart: ended, the guest running on here (the destination's
    copy never ran: only its `run` lets it)."""
    await _abandon(guest, [job for job in await _jobs(guest) if job.startswith("mirror-")])


async def _abandon(guest: Guest, mirrors: list[str]) -> None:
    """A failed send: the migration and the mirrors end, the guest runs on here."""
    with contextlib.suppress(errors.OvercastError):
        await guest.qmp("migrate_cancel")
        for job in set(mirrors) & set(await _jobs(guest)):
            await guest.qmp("block-job-cancel", device=job, force=True)
        if await guest.status() != "running":
            await guest.qmp("cont")


async def run(guest: Guest) -> None:
    """Destination, once the source has let go: stop serving the disks, let the guest run."""
    await _until("the guest's state arriving", lambda: _arrived(guest), 60)
    for export in await guest.qmp("query-block-exports"):
        with contextlib.suppress(errors.OvercastError):
            await guest.qmp("block-export-del", id=export["id"])
    with contextlib.suppress(errors.OvercastError):
        await guest.qmp("nbd-server-stop")
    await guest.qmp("cont")


async def _arrived(guest: Guest) -> bool:
    return await guest.status() not in ("inmigrate", "prelaunch")
