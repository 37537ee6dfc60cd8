"""Server actions through openstacksdk: power, pause, suspend, rescue, lock, rebuild, shelve,
migrations and evacuation, tags and metadata, with the states Nova shows."""

from __future__ import annotations

from typing import Any

import openstack.exceptions as osexc
import pytest

from tests.compute.conftest import boot, wait_for


@pytest.fixture
def vm(admin: Any, cirros: Any) -> Any:
    server = admin.compute.wait_for_server(boot(admin, cirros), wait=20, interval=0.05)
    yield server
    admin.compute.delete_server(server, ignore_missing=True)


def test_power_pause_suspend_rescue_lock(admin: Any, demo: Any, cirros: Any) -> None:
    c = demo.compute
    server = c.wait_for_server(boot(demo, cirros), wait=20, interval=0.05)
    for act, status in (
        (c.pause_server, "PAUSED"),
        (c.unpause_server, "ACTIVE"),
        (c.suspend_server, "SUSPENDED"),
        (c.resume_server, "ACTIVE"),
        (c.rescue_server, "RESCUE"),
        (c.unrescue_server, "ACTIVE"),
    ):
        act(server)
        assert wait_for(demo, server.id, status).status == status
    c.reboot_server(server, "HARD")
    assert wait_for(demo, server.id, "ACTIVE").power_state == 1
    with pytest.raises(osexc.ConflictException):
        c.unpause_server(server)  # not paused: 409, nothing changes
    c.lock_server(server, locked_reason="maintenance")
    locked = c.get_server(server)
    assert locked.is_locked and locked.locked_reason == "maintenance"
    with pytest.raises(osexc.ConflictException):
        c.stop_server(server)
    admin.compute.stop_server(server.id)  # an admin may act on a locked server
    wait_for(demo, server.id, "SHUTOFF")
    c.unlock_server(server)
    c.delete_server(server)


def test_rebuild_shelve_unshelve(admin: Any, vm: Any, cirros: Any) -> None:
    c = admin.compute
    c.rebuild_server(vm, image=cirros.id, name="rebuilt")
    rebuilt = wait_for(admin, vm.id, "ACTIVE")
    assert rebuilt.name == "rebuilt"
    c.shelve_server(vm)
    shelved = wait_for(admin, vm.id, "SHELVED_OFFLOADED")
    assert shelved.compute_host is None
    c.unshelve_server(vm)
    back = wait_for(admin, vm.id, "ACTIVE")
    assert back.compute_host and back.power_state == 1
    assert admin.image.find_image(f"{vm.name}-shelved") is None


def test_deleting_a_shelved_offloaded_server_releases_all(demo: Any, cirros: Any) -> None:
    """A shelved-offloaded server has no host: the API itself gives back its port and its
    shelve snapshot when it is deleted, so that its subnet can go (Nova's local delete)."""
    net = demo.network.create_network(name="shelved-net")
    subnet = demo.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.6.0.0/24")
    server = boot(demo, cirros, networks=[{"uuid": net.id}])
    wait_for(demo, server.id, "ACTIVE")
    (port,) = demo.network.ports(device_id=server.id)
    demo.compute.shelve_server(server)
    wait_for(demo, server.id, "SHELVED_OFFLOADED")
    image = demo.image.find_image(f"{server.name}-shelved")
    assert image is not None and image.status == "active"
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=0.05, wait=20)
    assert demo.network.find_port(port.id) is None
    assert demo.image.find_image(image.id) is None
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(net)


def test_servers_deleted_while_building_give_their_ports_back(demo: Any, cirros: Any) -> None:
    """A delete that comes while the build waits for its ports' vif-plugged events ends that
    wait, and the build gives the ports back (not only after the plugging timeout)."""
    import time

    net = demo.network.create_network(name="building-net")
    subnet = demo.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.5.0.0/24")
    made = [boot(demo, cirros, networks=[{"uuid": net.id}]) for _ in range(4)]
    for i, server in enumerate(made):
        time.sleep(0.05 * i)  # each delete at another point of its build
        demo.compute.delete_server(server)
    for server in made:
        demo.compute.wait_for_delete(server, interval=0.05, wait=20)
    deadline = time.monotonic() + 10
    while list(demo.network.ports(network_id=net.id, device_owner="compute:nova")):
        assert time.monotonic() < deadline, "ports of deleted servers were left"
        time.sleep(0.1)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(net)


def test_resize_revert_migrate_live_migrate(admin: Any, vm: Any) -> None:
    c = admin.compute
    source = vm.compute_host
    c.resize_server(vm, "2")
    assert wait_for(admin, vm.id, "VERIFY_RESIZE").flavor["original_name"] == "m1.small"
    c.revert_server_resize(vm)
    reverted = wait_for(admin, vm.id, "ACTIVE")
    assert reverted.flavor["original_name"] == "m1.tiny" and reverted.compute_host == source
    c.migrate_server(vm)
    moved = wait_for(admin, vm.id, "VERIFY_RESIZE")
    assert moved.compute_host != source
    c.confirm_server_resize(vm)
    wait_for(admin, vm.id, "ACTIVE")
    here = c.get_server(vm).compute_host
    c.live_migrate_server(vm, block_migration="auto")
    live = wait_for(admin, vm.id, "ACTIVE")
    assert live.compute_host != here


def test_evacuate_from_a_down_host(admin: Any, cirros: Any) -> None:
    c = admin.compute
    server = c.wait_for_server(boot(admin, cirros), wait=20, interval=0.05)
    source = server.compute_host
    with pytest.raises(osexc.BadRequestException):
        c.evacuate_server(server)  # its host is up
    service = next(s for s in c.services() if s.host == source and s.binary == "nova-compute")
    c.update_service_forced_down(service, source, "nova-compute", True)
    try:
        c.evacuate_server(server)
        evacuated = wait_for(admin, server.id, "SHUTOFF", "ACTIVE")
        assert evacuated.compute_host != source
        assert evacuated.status == "SHUTOFF"  # 2.95: evacuated servers arrive stopped
    finally:
        c.update_service_forced_down(service, source, "nova-compute", False)
    c.delete_server(server)


def test_tags_metadata_ips_and_console(admin: Any, vm: Any) -> None:
    c = admin.compute
    c.add_tag_to_server(vm, "blue")
    c.add_tag_to_server(vm, "green")
    assert sorted(c.get_server(vm).tags) == ["blue", "green"]
    c.remove_tag_from_server(vm, "blue")
    assert c.get_server(vm).tags == ["green"]
    c.set_server_metadata(vm, role="web")
    c.delete_server_metadata(vm, ["role"])
    assert c.get_server_metadata(vm).metadata == {}
    assert list(c.server_ips(vm)) == []
    assert "login" in c.get_server_console_output(vm)["output"]
    with pytest.raises(osexc.BadRequestException):
        c.resize_server(vm, "1")  # the same flavor
