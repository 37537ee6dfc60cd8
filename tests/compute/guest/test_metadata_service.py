"""Without a config drive the guest asks the metadata service at 169.254.169.254 (here QEMU's
user-mode network, whose gateway forwards that address to a responder of the test's), and
takes its hostname, SSH key and user_data from there."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from overcast.compute.guest import build, plainboot

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.xdist_group("guest-boot")]

INSTANCE = "0e7d4c1a-9b8f-4e2d-8c7b-5a6f3e2d1c0b"
RESPONDER = Path(__file__).with_name("metadata_responder.py")


async def test_guest_reads_the_metadata_service(guest_image: build.Built, tmp_path: Path) -> None:
    meta = {"uuid": INSTANCE, "hostname": "from-metadata.novalocal", "public_keys": {}}
    answers = tmp_path / "answers.json"
    answers.write_text(
        json.dumps(
            {
                "/openstack/latest/meta_data.json": json.dumps(meta),
                "/openstack/latest/user_data": "#!/bin/sh\necho metadata-user-data-ran\n",
            }
        )
    )
    net = (
        ",net=169.254.169.0/24,host=169.254.169.1,dhcpstart=169.254.169.15"
        f",guestfwd=tcp:169.254.169.254:80-cmd:{sys.executable} {RESPONDER} {answers}"
    )
    async with plainboot.running(guest_image.path, plainboot.Machine(), net=net) as guest:
        banner = await guest.wait_for(plainboot.BANNER, 180)
        assert banner is not None, "\n".join(guest.console[-30:])
        assert re.search(
            rf"hostname=from-metadata addresses=169\.254\.169\.15\S* instance={INSTANCE} "
            r"metadata=metadata-service",
            banner,
        ), banner
        assert await guest.wait_for("metadata-user-data-ran", 60)
    requests = answers.with_suffix(".log").read_text().splitlines()
    assert [r.split(" ")[:2] for r in requests] == [
        ["GET", "/openstack/latest/meta_data.json"],
        ["GET", "/openstack/latest/user_data"],
    ]
