"""A volume on one node attached to a server on another (issue #12): a storage node runs the
volume role (`serve --role volume`: its scheduler and a `file` back end) in a namespace host of
its own, a compute node the fake driver in another. The attachment's connection is an NBD
export served on the storage node's address, which QEMU's user-space NBD client (`qemu-io`,
the hypervisor's own block code) reads and writes from inside the compute node's namespace;
the volume grows while attached (the export is set up again at its new size), though not
while a client is connected to the export, and the export goes when the volume is detached."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import openstack
import pytest

from tests.compute.conftest import wait_for
from tests.helpers import nodes
from tests.multinode.conftest import boot, host_of, hosted_cloud, tiny_image
from tests.volume.conftest import holds, wait_volume

pytestmark = [pytest.mark.xdist_group("multinode-volume-across"), pytest.mark.slow]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nodes.Cloud]:
    with hosted_cloud(tmp_path_factory.mktemp("volnodes")) as made:
        made.node("controller", "controller").start()
        storage = made.node("storage", "volume")
        storage.env["OVERCAST_VOLUME__EXPORT_ADDRESS"] = storage.env["OVERCAST_MY_IP"]
        storage.start()
        made.node("nodea", "compute").start()
        yield made


def _in(cloud: nodes.Cloud, node: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    """`cmd` run inside the node's namespace host."""
    assert cloud.hosts is not None
    (host,) = [h for h in cloud.hosts.hosts if h.name == node]
    return subprocess.run(["ip", "netns", "exec", host.namespace, *cmd],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def _connection(conn: openstack.connection.Connection, volume_id: str) -> dict[str, Any]:
    attachment_id = conn.block_storage.get_volume(volume_id).attachments[0]["attachment_id"]
    found = conn.block_storage.get(f"/attachments/{attachment_id}", microversion="3.44")
    assert found.status_code == 200, found.text
    info: dict[str, Any] = found.json()["attachment"]["connection_info"]
    return info


def test_a_volume_on_one_node_attached_to_a_server_on_another(cloud: nodes.Cloud) -> None:
    admin = cloud.nodes[0].connect()
    binaries = {(s.binary, s.host.split("@")[0]) for s in admin.block_storage.services()}
    assert {("cinder-scheduler", "storage"), ("cinder-volume", "storage")} <= binaries
    volume = admin.block_storage.create_volume(size=1, name="across")
    volume = wait_volume(admin, volume.id, "available", timeout=60)
    assert volume.host.startswith("storage@")
    server = boot(admin, tiny_image(admin), "far")
    wait_for(admin, server.id, "ACTIVE")
    assert host_of(admin, server.id) == "nodea-1"

    admin.compute.create_volume_attachment(server, volume_id=volume.id)
    wait_volume(admin, volume.id, "in-use", timeout=60)
    info = _connection(admin, volume.id)
    data = info["data"]
    storage, compute = (n.env["OVERCAST_MY_IP"] for n in cloud.nodes[1:3])
    assert info["driver_volume_type"] == "nbd" and data["host"] == storage != compute
    url = f"nbd://{data['host']}:{data['port']}/{data['name']}"
    # The compute node writes through the export; the data is in the storage node's file.
    wrote = _in(cloud, "nodea", "qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 64k", url)
    assert wrote.returncode == 0, wrote.stderr
    (path,) = (cloud.nodes[1].data_dir / "volumes").glob(f"*/volume-{volume.id}")
    assert holds(path, "qcow2", "0x5a")

    # It grows while attached: the export comes back at the new size, the server hears of it.
    grow = {"os-extend": {"new_size": 2}}
    done = admin.block_storage.post(f"/volumes/{volume.id}/action", json=grow, microversion="3.42")
    assert done.status_code == 202, done.text
    deadline = time.monotonic() + 60
    while (found := admin.block_storage.get_volume(volume.id)).status == "extending":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert (found.status, found.size) == ("in-use", 2)
    shown = _in(cloud, "nodea", "qemu-img", "info", "--output", "json", url)
    assert '"virtual-size": 2147483648' in shown.stdout, shown
    reread = _in(cloud, "nodea", "qemu-io", "-r", "-f", "raw", "-c", "read -P 0x5a 1M 64k", url)
    assert "Pattern verification failed" not in reread.stdout and reread.returncode == 0
    deadline = time.monotonic() + 30  # compute hears of it after the volume is in use
    while (
        f"grew to {2 << 30} bytes" not in admin.compute.get_server_console_output(server)["output"]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)

    # While a client holds the export (as a guest's QEMU does), the size cannot change under
    # it: the extend ends in error_extending at the old size, the data untouched.
    assert cloud.hosts is not None
    (nodea,) = [h for h in cloud.hosts.hosts if h.name == "nodea"]
    client = subprocess.Popen(["ip", "netns", "exec", nodea.namespace, "qemu-io", "-r", "-f",
                               "raw", url], stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert client.stdout is not None and client.stdout.read(8) == b"qemu-io>"
        grow["os-extend"]["new_size"] = 3
        done = admin.block_storage.post(
            f"/volumes/{volume.id}/action", json=grow, microversion="3.42"
        )
        assert done.status_code == 202, done.text
        failed = wait_volume(admin, volume.id, "error_extending", timeout=60)
    finally:
        client.communicate(b"quit\n", timeout=30)
    assert failed.size == 2 and holds(path, "qcow2", "0x5a")
    assert '"virtual-size": 2147483648' in _in(cloud, "nodea", "qemu-img", "info", "--output",
                                               "json", url).stdout  # fmt: skip
    admin.block_storage.reset_volume_status(volume, "in-use", "attached", None)

    admin.compute.delete_volume_attachment(server, volume.id)
    wait_volume(admin, volume.id, "available", timeout=60)
    assert _in(cloud, "nodea", "qemu-img", "info", url).returncode != 0  # the export went
    admin.compute.delete_server(server)
    admin.block_storage.delete_volume(volume.id)
