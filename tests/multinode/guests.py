"""What the multi-node modules with real guests share: the qemu nodes' settings, the guest
scripts that write to and read back a volume, and looks at a node's guests (their QEMU, their
connections) and at a volume's attachments, through the APIs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from overcast.compute.drivers.qemu import hostinfo
from tests.compute.qemu.conftest import Cloud, qemu_pids
from tests.helpers import nodes

# The modules' marks: they share one cloud of real-guest nodes (qemu_nodes), so one worker.
MARKS = [
    pytest.mark.xdist_group("multinode-qemu"),
    pytest.mark.slow,
    pytest.mark.skipif(
        not hostinfo.qemu_usable("qemu-system-x86_64"), reason="QEMU cannot run here"
    ),
]

# Shell lines of the guests' scripts: wait for the disk whose serial is SERIAL, as $dev.
FIND_VOLUME = """while :; do
  for s in /sys/block/vd*/serial; do
    [ "$(cat $s 2> /dev/null)" = "SERIAL" ] && dev=/dev/${s#/sys/block/} && dev=${dev%/serial}
  done
  [ -n "$dev" ] && [ -b "$dev" ] && break
  sleep 1
done"""
# Finds its volume by serial and writes a marker at 1 MiB; then every second a counter, each
# into a new cluster (64 KiB apart from 2 MiB on: the image grows, qcow2 adds to its tables),
# and reads back from the device (its cache dropped) the marker and the counter before.
MOVER = """#!/bin/sh
(
FIND
printf written-before-move | dd of=$dev bs=512 seek=2048 conv=fsync 2> /dev/null
n=0
while :; do
  n=$((n + 1))
  printf after-%06d $n | dd of=$dev bs=512 seek=$((4096 + n * 128)) conv=fsync 2> /dev/null
  echo 3 > /proc/sys/vm/drop_caches
  first=$(dd if=$dev bs=512 skip=2048 count=1 2> /dev/null | tr -d '\\000')
  last=$(dd if=$dev bs=512 skip=$((4096 + n * 128 - 128)) count=1 2> /dev/null | tr -d '\\000')
  echo "movetest: $n reads $first $last."
  sleep 1
done
) &
""".replace("FIND", FIND_VOLUME)
QEMU_ENV = {
    "OVERCAST_COMPUTE__DRIVER": "qemu",
    "OVERCAST_COMPUTE__QEMU__ACCEL": "tcg",
    "OVERCAST_COMPUTE__SHUTDOWN_TIMEOUT": "20",
    # Each host's periodic pass drops the guests of moves that ended without it, soon.
    "OVERCAST_COMPUTE__SYNC_POWER_STATE_INTERVAL": "2",
}


def node_named(cloud: nodes.Cloud, name: str) -> nodes.Node:
    return next(n for n in cloud.nodes if n.data_dir.name == name)


def guest_pid(node: nodes.Node, server: Any) -> int | None:
    for pid in qemu_pids(node.data_dir):
        if server.id.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    return None


def attached(guests: Cloud, volume_id: str) -> tuple[str, str]:
    """(host, connection type) of the volume's one attachment: `openstack volume show`'s
    host, the attachment's connection as the volume service gave it."""
    (attachment,) = guests.srv.cli_json("volume", "show", volume_id)["attachments"]
    found = guests.conn.block_storage.get(
        f"/attachments/{attachment['attachment_id']}", microversion="3.44"
    )
    assert found.status_code == 200, found.text
    info = found.json()["attachment"]["connection_info"]
    return str(attachment["host_name"]), str(info["driver_volume_type"])


def attached_count(guests: Cloud, volume_id: str) -> int:
    """How many attachments the volume service holds of the volume."""
    found = guests.conn.block_storage.get(
        f"/attachments?volume_id={volume_id}", microversion="3.27"
    )
    assert found.status_code == 200, found.text
    return len(found.json()["attachments"])


def last_count(guests: Cloud, server: Any) -> int:
    """The guest's last counter; every line so far read the marker and the counter before."""
    lines = re.findall(r"movetest: (\d+) reads (\S*) ?(\S*)\.", guests.console(server))
    assert lines, guests.console(server)[-2000:]
    for n, first, last in lines:
        before = f"after-{int(n) - 1:06d}" if int(n) > 1 else ""
        assert (first, last) == ("written-before-move", before), lines
    return int(lines[-1][0])


def connections(node: nodes.Node, pid: int, to: str) -> int:
    """How many connections QEMU `pid` on `node` has open to `to` (its volume's NBD export,
    and while it sends the guest its mirror's and its migration's)."""
    found = node.run("ss", "-Htnp", "state", "established", "dst", to)
    return found.count(f"pid={pid},")
