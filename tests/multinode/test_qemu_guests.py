"""Real guests (the qemu driver, TCG) on compute nodes that are namespace hosts of their own,
with the APIs and the conductor on others (`qemu_nodes`): the noVNC console of a guest reached by the API's proxy over the
network at its host's `my_ip`; a live migration (disks mirrored over NBD, no shared
storage) after which the guest runs on where it was, its serial console (over TCP from the
API's proxy too) going on; a live migration of a guest with a volume attached, there and
back, from the host that stores the volume (a local file to QEMU) to the other (an NBD export)
and back, the guest writing and reading it throughout, then one cut short by a kill -9 of
its source's process, after which each host settles its side by itself; and a cold
migration that takes the disk's data (a marker written into it) to the other host.

Guests have no network (`networks="none"`): the dataplane between namespace hosts is not
this module's subject."""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets.sync.client

from tests.compute.qemu.conftest import (
    BANNER,
    Cloud,
    image_bytes,
    vnc_handshake,
)
from tests.helpers import nodes
from tests.multinode.guests import (
    FIND_VOLUME,
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

# At each boot (from an inittab entry made at the first) finds its volume by serial, says what
# it reads at 1 MiB (its cache is cold) and, if nothing, writes a marker there.
READER = """#!/bin/sh
cat > /etc/overcast/coldtest << 'END'
#!/bin/sh
(
FIND
now=$(dd if=$dev bs=512 skip=2048 count=1 2> /dev/null | tr -d '\\000')
echo "coldtest: reads $now."
[ -n "$now" ] && exit
printf written-before-cold | dd of=$dev bs=512 seek=2048 conv=fsync 2> /dev/null
echo "coldtest: wrote."
) &
END
chmod +x /etc/overcast/coldtest
echo ::once:/etc/overcast/coldtest >> /etc/inittab
/etc/overcast/coldtest
""".replace("FIND", FIND_VOLUME)


@pytest.fixture(scope="module")
def cloud(qemu_nodes: nodes.Cloud) -> nodes.Cloud:
    return qemu_nodes


@pytest.fixture(scope="module")
def guests(cloud: nodes.Cloud) -> Iterator[Cloud]:
    """`far`, which reads the volume `cold` (and writes it once) at each boot once it is
    attached, and `mover`, which writes to the volume `moving` once it is attached."""
    made = Cloud(cloud.nodes[0])
    storage = made.conn.block_storage
    volume, cold = (storage.create_volume(size=1, name=n) for n in ("moving", "cold"))
    for made_volume in (volume, cold):
        storage.wait_for_status(made_volume, "available", wait=60)
    script = MOVER.replace("SERIAL", volume.id[:20]).encode()
    reader = READER.replace("SERIAL", cold.id[:20]).encode()
    made.boot_all(
        ("far", {"user_data": base64.b64encode(reader).decode()}),
        # On the host that does not store the volume: a kill of its process leaves the volume
        # service up.
        (
            "mover",
            {"user_data": base64.b64encode(script).decode(), "availability_zone": "nova:nodeb"},
        ),
    )
    yield made
    for server in made.conn.compute.servers(name="^(far|mover)$"):  # the next module's room
        made.conn.compute.delete_server(server)


def _cmdline(node: nodes.Node, server: Any) -> str:
    pid = guest_pid(node, server)
    assert pid is not None, f"no QEMU of {server.id} on {node.data_dir.name}"
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_novnc_of_a_guest_on_another_node(cloud: nodes.Cloud, guests: Cloud) -> None:
    (far,) = guests.conn.compute.servers(name="far")
    where = node_named(cloud, far.compute_host)
    assert where in cloud.nodes[2:]
    assert cloud.hosts is not None
    address = next(h.address for h in cloud.hosts.hosts if h.name == where.data_dir.name)
    line = _cmdline(where, far)  # both consoles on TCP at its host's my_ip
    assert f"-vnc {address}:0,to=99" in line and f"serial0,host={address},port=10000" in line
    url = guests.srv.cli_json("console", "url", "show", "--novnc", far.id)["url"]
    vnc_handshake(url)


def _live_migrate(guests: Cloud, server: Any) -> Any:
    """Live-migrate `server` to the other host; the server once it is ACTIVE there."""
    compute = guests.conn.compute
    source = compute.get_server(server.id).compute_host
    compute.live_migrate_server(server, host=None, block_migration="auto")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        moved = compute.get_server(server.id)
        if moved.compute_host != source and moved.status == "ACTIVE":
            return moved
        assert moved.status != "ERROR", moved.fault
        time.sleep(1)
    raise AssertionError(f"{server.id} never moved: {compute.get_server(server.id)}")


def test_live_migration_keeps_the_guest_running(cloud: nodes.Cloud, guests: Cloud) -> None:
    compute = guests.conn.compute
    (far,) = compute.servers(name="far")
    source = node_named(cloud, far.compute_host)
    booted = guests.console(far).count(BANNER)
    pid = guest_pid(source, far)
    moved = _live_migrate(guests, far)
    assert moved.power_state == 1 and moved.task_state is None
    dest = node_named(cloud, moved.compute_host)
    assert guest_pid(dest, far) and not guest_pid(source, far) and pid is not None
    assert not list((source.data_dir / "compute" / "qemu").glob(f"*/instances/{far.id}*"))
    console = compute.create_server_remote_console(far, protocol="serial", type="serial")
    seen = b""
    with websockets.sync.client.connect(console.url, open_timeout=10) as ws:
        deadline = time.monotonic() + 60
        ws.send(b"\r")
        while b"login:" not in seen:  # the guest answers from its new host
            assert time.monotonic() < deadline, f"no login prompt, only {seen[-500:]!r}"
            try:
                seen += bytes(ws.recv(timeout=5))
            except TimeoutError:
                ws.send(b"\r")
    log = guests.wait_console(far, "login:", count=2)  # the banner's prompt, then this one
    assert log.count(BANNER) == booted  # carried over from the source, and no reboot


def _disk(node: nodes.Node, server: Any) -> Path:
    (disk,) = (node.data_dir / "compute" / "qemu").glob(f"*/instances/{server.id}/disk")
    return disk


def test_cold_migration_takes_the_disk_along(cloud: nodes.Cloud, guests: Cloud) -> None:
    """The guest's disk is copied over (a marker written into it is read there) and its volume
    follows it (connected on the destination by an attachment of its own, the source's let go
    on the confirm): started there, the guest reads what it wrote into the volume before."""
    compute = guests.conn.compute
    (far,) = compute.servers(name="far")
    source = node_named(cloud, far.compute_host)
    cold = guests.conn.block_storage.find_volume("cold")
    guests.srv.cli("server", "add", "volume", far.id, cold.id)
    guests.wait_console(far, "coldtest: wrote.")
    compute.stop_server(far)
    guests.wait_status(far, "SHUTOFF")
    marker = ["-c", "write -P 0x5a 1020M 64k"]  # near the end of its 1 GiB disk, unused
    subprocess.run(["qemu-io", "-f", "qcow2", *marker, str(_disk(source, far))], check=True)
    compute.migrate_server(far)
    moved = guests.wait_status(far, "VERIFY_RESIZE")
    dest = node_named(cloud, moved.compute_host)
    assert dest is not source
    shown = guests.srv.cli_json("volume", "show", cold.id)["attachments"]
    # The source's attachment stays until the confirm, for a revert.
    assert sorted(a["host_name"] for a in shown) == sorted(n.data_dir.name for n in (source, dest))
    check = ["-c", "read -P 0x5a 1020M 64k"]
    read = subprocess.run(["qemu-io", "-r", "-U", "-f", "qcow2", *check, str(_disk(dest, far))],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "read 65536/65536" in read.stdout and "failed" not in read.stdout, read.stdout
    compute.confirm_server_resize(far)
    guests.wait_status(far, "SHUTOFF")
    assert not list((source.data_dir / "compute" / "qemu").glob(f"*/instances/{far.id}*"))
    assert attached(guests, cold.id)[0] == dest.data_dir.name
    compute.start_server(far)
    guests.wait_status(far, "ACTIVE")
    guests.wait_console(far, BANNER)  # it boots from the disk that came over
    guests.wait_console(far, "coldtest: reads written-before-cold.")  # the volume came along
    assert guest_pid(dest, far) is not None


def _daemons(volume_id: str) -> list[str]:
    """The NBD exports (qemu-storage-daemon processes) of the volume."""
    found = subprocess.run(["pgrep", "-f", f"qemu-storage-daemon.*volume-{volume_id}"],
                           capture_output=True, text=True)  # fmt: skip
    return found.stdout.split()


def test_live_migration_with_a_volume_there_and_back(cloud: nodes.Cloud, guests: Cloud) -> None:
    """Volumes are shared storage: not copied, connected anew on the destination (local on
    the host that stores it, NBD elsewhere) and let go on the source; the guest writes and
    reads it back (its cache dropped) before, during and after each move, into new clusters
    of the qcow2 image all along (an export opened before the move must not miss them)."""
    compute = guests.conn.compute
    (mover,) = compute.servers(name="mover")
    volume = guests.conn.block_storage.find_volume("moving")
    guests.srv.cli("server", "add", "volume", mover.id, volume.id)
    guests.wait_console(mover, "movetest: 2 reads written-before-move")
    storage = node_named(cloud, "nodea")
    (path,) = (storage.data_dir / "volumes").glob(f"*/volume-{volume.id}")
    booted = guests.console(mover).count(BANNER)
    kinds = set()
    for _ in range(2):  # away from the host that stores it and back, or the other way round
        source = compute.get_server(mover.id).compute_host
        kind = "local" if source == "nodea" else "nbd"
        assert attached(guests, volume.id) == (source, kind)
        assert len(_daemons(volume.id)) == (kind == "nbd")
        count = last_count(guests, mover)
        moved = _live_migrate(guests, mover)
        there = moved.compute_host
        assert moved.power_state == 1 and moved.task_state is None
        assert guest_pid(node_named(cloud, there), mover)
        assert not guest_pid(node_named(cloud, source), mover)
        assert attached(guests, volume.id) == (there, "nbd" if kind == "local" else "local")
        assert len(_daemons(volume.id)) == (kind == "local")  # the source's export went
        # It writes on and reads back from the volume, on its new host, what it wrote before.
        guests.wait_console(mover, f"movetest: {count + 5} reads")
        kinds.add(kind)
    assert kinds == {"local", "nbd"}
    assert guests.console(mover).count(BANNER) == booted  # no reboot
    # What it wrote before the moves and after them is in the volume's file.
    assert image_bytes(path, "qcow2", 1 << 20, 19) == b"written-before-move"
    count = last_count(guests, mover)
    for n in range(1, count + 1):
        found = image_bytes(path, "qcow2", (2 << 20) + (n << 16), 12)
        assert found == f"after-{n:06d}".encode(), (n, found)
    _cut_short(cloud, guests, mover, volume.id)
    guests.srv.cli("server", "remove", "volume", mover.id, volume.id)
    detached = guests.conn.block_storage.wait_for_status(volume, "available", wait=120)
    assert not detached.attachments and not _daemons(volume.id)


def _cut_short(cloud: nodes.Cloud, guests: Cloud, mover: Any, volume_id: str) -> None:
    """A live migration whose source's process is killed while QEMU sends the guest, then
    started again (as systemd would): the source finds the guest running on there, the
    instance ACTIVE with no task, the migration `error`; the destination drops its waiting
    QEMU, its files and its attachment of the volume by itself, without a restart."""
    compute = guests.conn.compute
    source = node_named(cloud, compute.get_server(mover.id).compute_host)
    dest = next(n for n in cloud.nodes[2:] if n is not source)
    assert cloud.hosts is not None
    address = next(h.address for h in cloud.hosts.hosts if h.name == dest.data_dir.name)
    pid, count = guest_pid(source, mover), last_count(guests, mover)
    assert pid is not None
    booted = guests.console(mover).count(BANNER)
    before = attached(guests, volume_id)
    exports = connections(source, pid, address)
    compute.live_migrate_server(mover, host=None, block_migration="auto")
    deadline = time.monotonic() + 120
    while connections(source, pid, address) <= exports:
        assert time.monotonic() < deadline, "the source never began to send the guest"
        time.sleep(0.05)
    source.kill()
    assert guest_pid(dest, mover), "no QEMU waited at the destination"
    source.start(timeout=240)
    back = guests.wait_status(mover, "ACTIVE")
    assert (back.compute_host, back.task_state, back.power_state) == (source.data_dir.name, None, 1)
    moves = list(compute.migrations(instance_uuid=mover.id))
    assert max(moves, key=lambda m: m.id).status == "error"
    assert guest_pid(source, mover) == pid  # the same QEMU runs the guest on
    deadline = time.monotonic() + 60
    left = (dest.data_dir / "compute" / "qemu").glob(f"*/instances/{mover.id}*")
    while guest_pid(dest, mover) or list(left) or attached_count(guests, volume_id) != 1:
        assert time.monotonic() < deadline, "the destination kept what it readied"
        time.sleep(0.5)
        left = (dest.data_dir / "compute" / "qemu").glob(f"*/instances/{mover.id}*")
    assert attached(guests, volume_id) == before
    guests.wait_console(mover, f"movetest: {count + 5} reads")  # it reads its volume still
    last_count(guests, mover)
    assert guests.console(mover).count(BANNER) == booted  # no reboot
