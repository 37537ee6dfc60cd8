"""The scheduler's cached host states (`compute.host_state_ttl`), kept for 10 minutes here so
that only what refreshes them can make these pass: a disabled service is out at once (the API's
fanout), and a host freed by a delete is found (a fresh load before NoValidHost). Through openstacksdk against a private two-host cloud."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.compute.conftest import boot, wait_for, wait_gone
from tests.helpers.server import Server


def test_cached_host_states_follow_claims_services_and_deletes(
    start_server: Callable[..., Server],
) -> None:
    srv = start_server(
        env={"OVERCAST_COMPUTE__FAKE_HOSTS": "2", "OVERCAST_COMPUTE__HOST_STATE_TTL": "600"}
    )
    admin = srv.connect("overcast")
    project = admin.current_project_id
    admin.set_compute_quotas(project, instances=-1, cores=-1, ram=-1)
    image = admin.image.create_image(
        name="tiny", data=b"\0" * 65536, disk_format="raw", container_format="bare"
    )
    # Two fit on a fake host (32768 MB), three do not.
    flavor = admin.compute.create_flavor(
        name=f"half-{uuid.uuid4().hex[:6]}", ram=12000, vcpus=1, disk=1
    )

    def host_of(server: Any) -> str:
        return str(admin.compute.get_server(wait_for(admin, server.id, "ACTIVE").id).compute_host)

    first = boot(admin, image, flavor=flavor.id)
    full = host_of(first)
    other = next(h for h in ("compute1", "compute2") if h != full)
    # The other host has more free memory, but it is disabled now: the next boot must not go there.
    service = next(s for s in admin.compute.services() if s.host == other)
    admin.compute.disable_service(service)
    second = boot(admin, image, flavor=flavor.id)
    assert host_of(second) == full
    third = boot(admin, image, flavor=flavor.id)  # `full` is full and `other` disabled
    refused = wait_for(admin, third.id, "ERROR")
    assert "No valid host" in refused.fault["message"]

    admin.compute.enable_service(service)
    fourth, fifth = (boot(admin, image, flavor=flavor.id) for _ in range(2))
    assert host_of(fourth) == host_of(fifth) == other
    admin.compute.delete_server(first)
    wait_gone(admin, first.id)
    # The cached states still count the deleted server: before refusing, the scheduler looks again.
    assert host_of(boot(admin, image, flavor=flavor.id)) == full
