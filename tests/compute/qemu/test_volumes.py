"""A real guest keeps its volume while the volume moves to another back end (Cinder's
migration of an attached volume, Nova's swap: QEMU mirrors the disk and pivots). The guest
writes before the move and keeps writing and reading during and after it; afterwards the
destination holds the first write and the guest's later writes, the guest reads the first
write back from the device (its cache dropped), and the source is gone.

The volume also grows while attached, before the move and after it (so on a qcow2 and on a
raw back end): the guest's disk reports the new size."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.compute.qemu.conftest import BANNER, Cloud, image_bytes

pytestmark = pytest.mark.xdist_group("qemu-guests")

FORMATS = {"fast": "qcow2", "slow": "raw"}


# Finds its volume by serial, writes a marker at 1 MiB, then every 2 s a counter at 2 MiB,
# reads the marker back from the device and says how many sectors the device has.
GUEST = """#!/bin/sh
serial=SERIAL
(
while :; do
  for s in /sys/block/vd*/serial; do
    [ "$(cat $s 2> /dev/null)" = "$serial" ] && dev=/dev/${s#/sys/block/} && dev=${dev%/serial}
  done
  [ -n "$dev" ] && [ -b "$dev" ] && break
  sleep 1
done
printf written-before-move | dd of=$dev bs=512 seek=2048 conv=fsync 2> /dev/null
echo "swaptest: wrote on $dev"
n=0
while :; do
  n=$((n + 1))
  printf after-%06d $n | dd of=$dev bs=512 seek=4096 conv=fsync 2> /dev/null
  echo 3 > /proc/sys/vm/drop_caches
  echo "swaptest: $n reads $(dd if=$dev bs=512 skip=2048 count=1 2> /dev/null | tr -d '\\000')\
 sectors $(cat /sys/block/${dev#/dev/}/size)"
  sleep 2
done
) &
"""


def _counter(path: Path, fmt: str) -> int:
    text = image_bytes(path, fmt, 2 << 20, 12).decode(errors="replace")
    found = re.fullmatch(r"after-(\d{6})", text)
    assert found, text
    return int(found.group(1))


def _last_read(cloud: Cloud, server: Any) -> tuple[int, str]:
    lines = re.findall(r"swaptest: (\d+) reads (\S*)", cloud.console(server))
    assert lines, cloud.console(server)[-2000:]
    return int(lines[-1][0]), lines[-1][1]


def _grow(cloud: Cloud, server: Any, volume_id: str, size: int) -> None:
    """`volume set --size` of the attached volume; it is in use at its new size and the guest's
    disk has as many 512-byte sectors."""
    cloud.srv.cli("--os-volume-api-version", "3.42", "volume", "set", "--size", str(size),
                  volume_id)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        grown = cloud.conn.block_storage.get_volume(volume_id)
        if grown.status != "extending":
            break
        time.sleep(0.5)
    assert (grown.status, grown.size) == ("in-use", size), grown
    cloud.wait_console(server, f"sectors {size << 21}", timeout=120)


def test_attached_volume_moves_under_a_running_guest(qemu_cloud: Cloud) -> None:
    conn = qemu_cloud.conn
    volume = conn.block_storage.create_volume(size=1, name="swapped")
    volume = conn.block_storage.wait_for_status(volume, "available", wait=60)
    volume = conn.block_storage.get_volume(volume.id)
    here, there = ("fast", "slow") if volume.host.endswith("#fast") else ("slow", "fast")
    script = GUEST.replace("SERIAL", volume.id[:20])
    server = qemu_cloud.boot("swapper", user_data=base64.b64encode(script.encode()).decode())
    server = qemu_cloud.wait_status(server, "ACTIVE")
    qemu_cloud.wait_console(server, BANNER)
    qemu_cloud.srv.cli("server", "add", "volume", server.id, volume.id)
    qemu_cloud.wait_console(server, "swaptest: 2 reads written-before-move")
    qemu_cloud.wait_console(server, f"sectors {1 << 21}")
    _grow(qemu_cloud, server, volume.id, 2)

    root = qemu_cloud.srv.data_dir / "volumes"
    source, target = root / here / f"volume-{volume.id}", root / there / f"volume-{volume.id}"
    pool = volume.host.replace(f"@{here}#{here}", f"@{there}#{there}")
    qemu_cloud.srv.cli("volume", "migrate", "--host", pool, volume.id)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        moved = conn.block_storage.get_volume(volume.id)
        if moved.migration_status in ("success", "error"):
            break
        time.sleep(1)
    assert moved.migration_status == "success" and moved.status == "in-use", moved
    assert moved.host == pool and not source.exists()
    # The destination has what the guest wrote before, and what it writes now.
    assert image_bytes(target, FORMATS[there], 1 << 20, 19) == b"written-before-move"
    count, _ = _last_read(qemu_cloud, server)
    deadline = time.monotonic() + 120
    while _counter(target, FORMATS[there]) <= count and time.monotonic() < deadline:
        time.sleep(1)
    assert _counter(target, FORMATS[there]) > count
    # The guest reads its first write back from the device, now the destination.
    qemu_cloud.wait_console(server, f"swaptest: {count + 2} reads written-before-move")
    shown = qemu_cloud.srv.cli_json("server", "show", server.id)
    assert [v["id"] for v in shown["volumes_attached"]] == [volume.id]
    _grow(qemu_cloud, server, volume.id, 3)
    # It lets the volume go as before.
    qemu_cloud.srv.cli("server", "remove", "volume", server.id, volume.id)
    conn.block_storage.wait_for_status(conn.block_storage.get_volume(volume.id), "available",
                                       wait=120)  # fmt: skip
    conn.compute.delete_server(server)
    conn.block_storage.delete_volume(volume.id)
