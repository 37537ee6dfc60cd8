"""`overcast serve` settles `compute.driver = auto` as `overcast up` does, before it builds
anything: a node where QEMU cannot run gets the fake driver with its fake hosts (as `up` on
such a host), the compute hosts and the network agents agree on them, and the log says why."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.nodes import Node
from tests.helpers.server import free_port


def test_auto_without_qemu_serves_the_fake_hosts(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "OVERCAST_COMPUTE__DRIVER": "auto",
        "OVERCAST_COMPUTE__QEMU__BINARY": str(tmp_path / "no-qemu-here"),
        "OVERCAST_COMPUTE__HOST_PREFIX": "n1-",
        "OVERCAST_COMPUTE__FAKE_HOSTS": "2",
        "OVERCAST_HOST_NAME": "node1",
        "OVERCAST_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    node = Node(tmp_path / "node", "controller,compute,network", env, port).start(timeout=240)
    try:
        conn = node.connect()
        hypervisors = sorted(h.name for h in conn.compute.hypervisors())
        assert hypervisors == ["n1-1", "n1-2"]
        services = {s.host for s in conn.compute.services() if s.binary == "nova-compute"}
        assert services == {"n1-1", "n1-2"}
        agents = {a.host for a in conn.network.agents()}
        assert agents == {"n1-1", "n1-2"}
        assert "compute driver fake (QEMU cannot run here)" in node.log.read_text()
    finally:
        node.stop()
