"""The openstack CLI against a real `overcast up`, exactly as a user types it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.compute.conftest import wait_for, wait_gone
from tests.helpers.server import Server


def test_cli_server_lifecycle(server: Server, admin: Any, cirros: Any) -> None:
    name = f"cli-{uuid.uuid4().hex[:6]}"
    created = server.cli_json(
        "server", "create", "--image", cirros.name, "--flavor", "m1.tiny", "--wait", name
    )
    assert created["status"] == "ACTIVE"
    sid = created["id"]
    listed = server.cli_json("server", "list", "--long")
    assert any(s["ID"] == sid and s["Status"] == "ACTIVE" for s in listed)
    shown = server.cli_json("server", "show", name)
    assert (
        shown["OS-EXT-STS:vm_state"] == "active" and shown["flavor"]["original_name"] == "m1.tiny"
    )

    server.cli("server", "stop", name)
    wait_for(admin, sid, "SHUTOFF")
    server.cli("server", "start", name)
    wait_for(admin, sid, "ACTIVE")
    server.cli("server", "reboot", name)
    wait_for(admin, sid, "ACTIVE")

    server.cli("server", "resize", "--flavor", "m1.small", name)
    assert wait_for(admin, sid, "VERIFY_RESIZE").flavor["original_name"] == "m1.small"
    server.cli("server", "resize", "confirm", name)
    wait_for(admin, sid, "ACTIVE")

    image = server.cli_json("server", "image", "create", "--name", f"{name}-snap", name)
    admin.image.wait_for_status(admin.image.get_image(image["id"]), "active", interval=0.1)
    wait_for(admin, sid, "ACTIVE")
    admin.image.delete_image(image["id"])

    log = server.cli("console", "log", "show", name).stdout
    assert "login" in log
    events = server.cli_json("server", "event", "list", name)
    actions = [e["Action"] for e in events]
    assert actions[-1] == "create" and {"stop", "start", "reboot", "resize"} <= set(actions)
    create_req = events[-1]["Request ID"]
    detail = server.cli_json("server", "event", "show", name, create_req)
    steps = [e["event"] for e in detail["events"]]
    assert steps == [
        "conductor_schedule_and_build_instances",
        "scheduler_select_destinations",
        "compute__do_build_and_run_instance",
    ]

    server.cli("server", "delete", name)
    wait_gone(admin, sid)


def test_cli_errors_are_clean(server: Server, cirros: Any) -> None:
    result = server.cli(
        "server",
        "create",
        "--image",
        cirros.id,
        "--flavor",
        "m1.tiny",
        "--nic",
        "none",
        "--key-name",
        "nope",
        "x",
        check=False,
    )
    assert result.returncode != 0 and "Invalid key_name provided" in result.stderr
    result = server.cli("server", "show", str(uuid.uuid4()), check=False)
    assert result.returncode != 0 and "No Server found" in result.stderr
    raw = server.cli("--os-compute-api-version", "2.1", "flavor", "list", "-f", "json")
    assert {f["Name"] for f in json.loads(raw.stdout)} >= {"m1.tiny", "m1.xlarge"}
