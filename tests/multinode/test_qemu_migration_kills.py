"""Kill -9 of one process of a multi-node cloud in the middle of a live migration of a real
guest (qemu driver, TCG), then started again (as systemd would): nothing is left stuck. The
server ends ACTIVE with no task on one host, one QEMU runs it there and its guest never
rebooted, writing to and reading back its volume all along; the migration record ends
`completed`, `error` or `failed`; the other host keeps no QEMU, no files and no attachment of
the volume for it.

- The source's process, after the guest switched over (QEMU on the destination took it, the
  record `post-migrating`) but before the record put the server on the destination (held there
  by the destination's process, stopped with SIGSTOP meanwhile): its restart finishes the move.
- The destination's process while QEMU sends the guest.
- The conductor's process while QEMU sends the guest.

The cloud is the one `test_qemu_guests` uses too (`qemu_nodes`): `api` (the APIs and the
scheduler), `control` (the conductor) and the compute nodes `nodea` (which stores the volume)
and `nodeb`, each a namespace host. One guest, booted on `nodeb`, moves between them in every
test; guests have no network (`networks="none"`)."""

from __future__ import annotations

import base64
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.compute.qemu.conftest import BANNER, Cloud
from tests.helpers import nodes
from tests.multinode.guests import (
    MARKS,
    MOVER,
    attached,
    attached_count,
    connections,
    guest_pid,
    last_count,
    node_named,
)

pytestmark = MARKS

ENDED = ("completed", "error", "failed")


@pytest.fixture(scope="module")
def cloud(qemu_nodes: nodes.Cloud) -> nodes.Cloud:
    return qemu_nodes


@pytest.fixture(scope="module")
def guests(cloud: nodes.Cloud) -> Iterator[Cloud]:
    """`hopper` on `nodeb`, writing to its volume `hopping` (stored on `nodea`) every second."""
    made = Cloud(cloud.nodes[0])
    volume = made.conn.block_storage.create_volume(size=1, name="hopping")
    made.conn.block_storage.wait_for_status(volume, "available", wait=60)
    script = MOVER.replace("SERIAL", volume.id[:20]).encode()
    (hopper,) = made.boot_all(
        ("hopper", {"user_data": base64.b64encode(script).decode(),
                    "availability_zone": "nova:nodeb"}),
    )  # fmt: skip
    made.srv.cli("server", "add", "volume", hopper.id, volume.id)
    made.wait_console(hopper, "movetest: 2 reads written-before-move")
    yield made
    made.conn.compute.delete_server(hopper)


def _on(cloud: nodes.Cloud, guests: Cloud, name: str) -> tuple[Any, nodes.Node, nodes.Node]:
    """The guest on node `name` (moved there if a test before left it elsewhere): (the server,
    that node, the other compute node)."""
    compute = guests.conn.compute
    (mover,) = compute.servers(name="^hopper$")
    if mover.compute_host != name:
        compute.live_migrate_server(mover, host=name, block_migration="auto")
        mover = _settled(guests, mover)
        assert mover.compute_host == name
    other = "nodea" if name == "nodeb" else "nodeb"
    return mover, node_named(cloud, name), node_named(cloud, other)


def _sending(
    cloud: nodes.Cloud, guests: Cloud, source: nodes.Node, dest: nodes.Node, mover: Any
) -> None:
    """Live-migrate `mover` from `source` to `dest`; back once its QEMU sends it (it has opened
    connections to `dest` beside its volume's export's)."""
    assert cloud.hosts is not None
    address = next(h.address for h in cloud.hosts.hosts if h.name == dest.data_dir.name)
    pid = guest_pid(source, mover)
    assert pid is not None
    exports = connections(source, pid, address)
    guests.conn.compute.live_migrate_server(mover, host=dest.data_dir.name, block_migration="auto")
    deadline = time.monotonic() + 120
    while connections(source, pid, address) <= exports:
        assert time.monotonic() < deadline, "the source never began to send the guest"
        time.sleep(0.05)


def _migration(guests: Cloud, server: Any) -> Any:
    return max(guests.conn.compute.migrations(instance_uuid=server.id), key=lambda m: m.id)


def _settled(guests: Cloud, server: Any, timeout: float = 180) -> Any:
    """The server once it is ACTIVE with no task and its migration has ended."""
    deadline = time.monotonic() + timeout
    while True:
        found = guests.conn.compute.get_server(server.id)
        assert found.status != "ERROR", found.fault
        if found.status == "ACTIVE" and found.task_state is None:
            if _migration(guests, found).status in ENDED:
                return found
        assert time.monotonic() < deadline, f"never settled: {found.status} {found.task_state}"
        time.sleep(0.5)


def _one_guest_left(cloud: nodes.Cloud, guests: Cloud, mover: Any, booted: int) -> Any:
    """What every kill must leave: the server ACTIVE on one host whose single QEMU runs the
    guest, still writing and reading its volume, never rebooted; the volume attached there
    alone; the other host with no QEMU or files of it (dropped by its periodic pass)."""
    moved = _settled(guests, mover)
    assert moved.power_state == 1, moved
    there = node_named(cloud, moved.compute_host)
    other = next(n for n in cloud.nodes[2:] if n is not there)
    assert guest_pid(there, mover) is not None
    volume = guests.conn.block_storage.find_volume("hopping")
    deadline = time.monotonic() + 60
    while True:
        files = list((other.data_dir / "compute" / "qemu").glob(f"*/instances/{mover.id}*"))
        left = guest_pid(other, mover) or files or attached_count(guests, volume.id) != 1
        if not left:
            break
        assert time.monotonic() < deadline, f"{other.data_dir.name} kept {files} or a QEMU"
        time.sleep(0.5)
    assert attached(guests, volume.id)[0] == there.data_dir.name
    count = last_count(guests, mover)
    try:
        guests.wait_console(mover, f"movetest: {count + 3} reads", timeout=60)
    except AssertionError as exc:  # what the guest's host shows of it, for the next look
        raise AssertionError(f"{exc}\n{_guest_state(guests, there, mover)}") from None
    last_count(guests, mover)  # every read since gave back what was written
    assert guests.console(mover).count(BANNER) == booted  # no reboot
    return moved


def _guest_state(guests: Cloud, there: nodes.Node, mover: Any) -> str:
    """The guest on `there` as its host sees it: the server's states, whether its QEMU still
    runs, the tail of QEMU's own log (an abort shows there)."""
    found = guests.conn.compute.get_server(mover.id)
    logs = list((there.data_dir / "compute" / "qemu").glob(f"*/instances/{mover.id}/qemu.log"))
    tail = logs[0].read_text(errors="replace")[-2000:] if logs else "no qemu.log"
    return (f"on {there.data_dir.name}: status {found.status}, power state {found.power_state}, "
            f"QEMU pid {guest_pid(there, mover)}; qemu.log: {tail}")  # fmt: skip


def test_source_killed_after_the_switch_over(cloud: nodes.Cloud, guests: Cloud) -> None:
    """The record says the guest switched over: the source's restart takes the move on to
    the destination (the source's QEMU, files and attachment gone), not back."""
    mover, source, dest = _on(cloud, guests, "nodeb")
    booted = guests.console(mover).count(BANNER)
    _sending(cloud, guests, source, dest, mover)
    assert dest.process is not None
    os.kill(dest.process.pid, signal.SIGSTOP)  # the source waits for it to run the guest
    try:
        deadline = time.monotonic() + 120
        while _migration(guests, mover).status != "post-migrating":
            assert time.monotonic() < deadline, _migration(guests, mover).status
            time.sleep(0.05)
        assert guests.conn.compute.get_server(mover.id).compute_host == source.data_dir.name
        source.kill()
    finally:
        os.kill(dest.process.pid, signal.SIGCONT)
    source.start(timeout=240)
    moved = _one_guest_left(cloud, guests, mover, booted)
    assert moved.compute_host == dest.data_dir.name
    assert _migration(guests, mover).status == "completed"


def test_destination_killed_while_the_guest_is_sent(cloud: nodes.Cloud, guests: Cloud) -> None:
    mover, source, dest = _on(cloud, guests, "nodea")
    booted = guests.console(mover).count(BANNER)
    _sending(cloud, guests, source, dest, mover)
    dest.kill()
    dest.start(timeout=240)
    _one_guest_left(cloud, guests, mover, booted)


def test_conductor_killed_while_the_guest_is_sent(cloud: nodes.Cloud, guests: Cloud) -> None:
    mover, source, dest = _on(cloud, guests, "nodeb")
    booted = guests.console(mover).count(BANNER)
    _sending(cloud, guests, source, dest, mover)
    control = node_named(cloud, "control")
    control.kill()
    control.start()
    _one_guest_left(cloud, guests, mover, booted)
