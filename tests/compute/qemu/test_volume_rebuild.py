"""A real guest booted from a volume is rebuilt with another image (microversion 2.93): its
root volume is re-imaged through the volume service and the guest boots from it again. The
second image is the guest image with a mark written past its end; the guest's user_data (run
once per root disk) prints what it finds there, so the console shows the rebuilt guest booting
the new image's bytes from the volume, and running user_data again on its fresh root."""

from __future__ import annotations

import base64
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.compute.qemu.conftest import BANNER, GUEST_DIR, Cloud

pytestmark = pytest.mark.xdist_group("qemu-guests")

# 4 KiB at 160 MiB of the root disk, past the guest image's 128 MiB.
USER_DATA = """#!/bin/sh
echo "rebuildtest: mark [$(dd if=/dev/vda bs=4096 skip=40960 count=1 2> /dev/null \
| tr -d '\\000' | head -c 4)]"
"""


def _marked_image(cloud: Cloud) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "marked.qcow2"
        source = GUEST_DIR / "overcast-guest.qcow2"
        subprocess.run(["qemu-img", "convert", "-q", "-O", "qcow2", str(source), str(path)],
                       check=True)  # fmt: skip
        subprocess.run(["qemu-img", "resize", "-q", str(path), "192M"], check=True)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x42 160M 4k", str(path)],
                       check=True, capture_output=True)  # fmt: skip
        image = cloud.conn.image.create_image(
            name="overcast-guest-marked",
            data=path.read_bytes(),
            disk_format="qcow2",
            container_format="bare",
            hw_machine_type="q35",
            hw_disk_bus="virtio",
        )
    return str(image.id)


def test_volume_backed_guest_rebuilt_from_a_new_image(qemu_cloud: Cloud) -> None:
    marked = _marked_image(qemu_cloud)
    mapping = {"boot_index": 0, "uuid": qemu_cloud.image.id, "source_type": "image",
               "destination_type": "volume", "volume_size": 1, "delete_on_termination": True}  # fmt: skip
    server = qemu_cloud.conn.compute.create_server(
        name="bfv-rebuilt",
        flavor_id=qemu_cloud.flavor.id,
        networks="none",
        block_device_mapping=[mapping],
        config_drive=True,
        user_data=base64.b64encode(USER_DATA.encode()).decode(),
    )
    server = qemu_cloud.wait_status(server, "ACTIVE")
    qemu_cloud.wait_console(server, BANNER)
    assert "rebuildtest: mark []" in qemu_cloud.wait_console(server, "rebuildtest: mark")
    volume_id = server.attached_volumes[0]["id"]

    qemu_cloud.srv.cli("--os-compute-api-version", "2.93", "server", "rebuild", "--image",
                       marked, "--reimage-boot-volume", server.id)  # fmt: skip
    server = qemu_cloud.wait_status(server, "ACTIVE")
    assert not (server.image or {}).get("id")
    output = qemu_cloud.wait_console(server, "rebuildtest: mark [BBBB]")
    assert BANNER in output.split("rebuildtest: mark []")[-1]
    volume = qemu_cloud.conn.block_storage.get_volume(volume_id)
    assert volume.status == "in-use" and volume.volume_image_metadata["image_id"] == marked
    assert [a["server_id"] for a in volume.attachments] == [server.id]

    qemu_cloud.conn.compute.delete_server(server)
    qemu_cloud.conn.compute.wait_for_delete(server, wait=120)
