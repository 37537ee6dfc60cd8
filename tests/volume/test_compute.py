"""Volumes and servers together, through the openstack CLI and openstacksdk: boot from a
volume, attach and detach, what server delete does to volumes."""

from __future__ import annotations

from typing import Any

import openstack.exceptions as osexc
import pytest

from tests.compute.conftest import wait_for, wait_gone
from tests.helpers.server import Server
from tests.volume.conftest import name, wait_volume


def test_boot_from_volume_and_attach(server: Server, admin: Any, volume_image: Any) -> None:
    boot = admin.block_storage.create_volume(size=1, image_id=volume_image.id, name=name("boot"))
    wait_volume(admin, boot.id, "available")
    data = admin.block_storage.create_volume(size=1, name=name("data"))
    wait_volume(admin, data.id, "available")

    vm = server.cli_json(
        "server",
        "create",
        "--volume",
        boot.name,
        "--flavor",
        "m1.tiny",
        "--nic",
        "none",
        "--wait",
        name("bfv"),
    )
    assert vm["status"] == "ACTIVE"
    assert wait_volume(admin, boot.id, "in-use").attachments[0]["server_id"] == vm["id"]

    server.cli("server", "add", "volume", vm["id"], data.name)
    attached = wait_volume(admin, data.id, "in-use")
    assert attached.attachments[0]["device"] == "/dev/vdb"
    shown = server.cli_json("server", "show", vm["id"])
    assert {v["id"] for v in shown["volumes_attached"]} == {boot.id, data.id}
    # A volume that is not multiattach cannot be attached twice.
    other = admin.compute.create_server(
        name=name("other"), image_id=volume_image.id, flavor_id="1", networks="none"
    )
    wait_for(admin, other.id, "ACTIVE")
    with pytest.raises(osexc.BadRequestException):
        admin.compute.create_volume_attachment(other.id, volume_id=data.id)
    assert admin.block_storage.get_volume(data.id).attachments[0]["server_id"] == vm["id"]
    # An attached volume cannot be deleted.
    with pytest.raises(osexc.BadRequestException):
        admin.block_storage.delete_volume(data.id)

    server.cli("server", "remove", "volume", vm["id"], data.name)
    wait_volume(admin, data.id, "available")
    admin.compute.delete_server(vm["id"])
    admin.compute.delete_server(other.id)
    wait_gone(admin, vm["id"])
    wait_gone(admin, other.id)
    # Booted from an existing volume without delete_on_termination: the volume stays.
    wait_volume(admin, boot.id, "available")
    admin.block_storage.delete_volume(boot.id)
    admin.block_storage.delete_volume(data.id)


def test_boot_from_image_to_new_volume_deleted_with_server(admin: Any, volume_image: Any) -> None:
    vm = admin.compute.create_server(
        name=name("bfv2"),
        flavor_id="1",
        networks="none",
        block_device_mapping=[
            {
                "boot_index": 0,
                "uuid": volume_image.id,
                "source_type": "image",
                "destination_type": "volume",
                "volume_size": 1,
                "delete_on_termination": True,
            }
        ],
    )
    vm = wait_for(admin, vm.id, "ACTIVE")
    volume_id = vm.attached_volumes[0]["id"]
    volume = admin.block_storage.get_volume(volume_id)
    assert volume.status == "in-use" and volume.is_bootable
    admin.compute.delete_server(vm.id)
    wait_gone(admin, vm.id)
    from tests.volume.conftest import wait_gone as volume_gone

    volume_gone(admin, volume_id)
