"""The dashboard's pages over plain HTTP: each page made from one or two API calls (its reads in
one batch), list pages that page both ways, the overview's recent activity, and the workflow
timeline on volume and image pages; all as a fresh project's member, who sees only its own."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import openstack
import pytest

from tests.dashboard.conftest import WebSession
from tests.helpers.isolation import Tenant
from tests.helpers.server import Server


def _names(html: str, table: str) -> list[str]:
    """The first column's link texts of the table with id `table`."""
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td><a href=\"[^\"]+\">([^<]+)</a>", body)


def _link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&").removeprefix("/dashboard") if found else None


def _boot_many(
    admin: openstack.connection.Connection, tenant: Tenant, image: str, count: int
) -> None:
    admin.set_compute_quotas(tenant.project_id, instances=-1, cores=-1, ram=-1)
    flavor = tenant.conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    body = {
        "server": {
            "name": "paged",
            "flavorRef": flavor.id,
            "imageRef": image,
            "networks": "none",
            "min_count": count,
            "max_count": count,
        }
    }
    response = tenant.conn.compute.post("/servers", json=body, microversion="2.37")
    assert response.status_code == 202, response.text


def _walk(web: WebSession, first: str, table: str) -> list[list[str]]:
    """Every page's names, following `next` from `first`; each page's `prev` link must lead
    back to the page before it."""
    pages: list[list[str]] = []
    path: str | None = first
    while path is not None and len(pages) < 20:
        html = web.get(path).text
        pages.append(_names(html, table))
        back = _link(html, "prev")
        if len(pages) == 1:
            assert back is None and _link(html, "first") is None
        else:
            assert back is not None, f"page {len(pages)} has no link back"
            assert _names(web.get(back).text, table) == pages[-2]
        path = _link(html, "next")
    return pages


@pytest.mark.parametrize("kind", ["instances", "networks", "containers"])
def test_lists_page_forwards_and_back(
    kind: str,
    admin: openstack.connection.Connection,
    tenant_web: tuple[Tenant, WebSession],
    image: str,
) -> None:
    tenant, web = tenant_web
    made = 23
    if kind == "instances":
        _boot_many(admin, tenant, image, made)
        mine = [f"paged-{i}" for i in range(1, made + 1)]  # multi-create numbers them
    elif kind == "networks":
        mine = [tenant.conn.network.create_network(name=f"net-{i:02}").name for i in range(made)]
    else:
        mine = [
            tenant.conn.object_store.create_container(name=f"c-{i:02}").name for i in range(made)
        ]
    pages = _walk(web, f"/project/{kind}?limit=20", kind)
    assert len(pages) >= 2 and len(pages[0]) == 20
    shown = [name for page in pages for name in page]
    assert len(shown) == len(set(shown))  # no row on two pages
    assert set(mine) <= set(shown)


def test_every_page_in_one_or_two_api_calls(
    server: Server,
    admin: openstack.connection.Connection,
    tenant_web: tuple[Tenant, WebSession],
    web: Callable[[str, str], WebSession],
    image: str,
) -> None:
    tenant, member = tenant_web
    conn = tenant.conn
    net = conn.network.create_network(name="counted")
    volume = conn.block_storage.create_volume(size=1, name="counted")
    own_image = conn.image.create_image(
        name="counted", data=b"x" * 1024, disk_format="raw", container_format="bare"
    )
    group = conn.network.security_groups(project_id=tenant.project_id)
    _boot_many(admin, tenant, image, 1)
    server_id = next(iter(conn.compute.servers())).id
    conn.object_store.create_container(name="counted")
    paths = [
        "/project/",
        "/project/instances",
        f"/project/instances/{server_id}",
        "/project/launch",
        "/project/topology",
        "/project/topology.svg",
        "/project/images",
        f"/project/images/{own_image.id}",
        "/project/keypairs",
        "/project/server-groups",
        "/project/volumes",
        f"/project/volumes/{volume.id}",
        "/project/volume-snapshots",
        "/project/volume-backups",
        "/project/networks",
        f"/project/networks/{net.id}",
        "/project/subnets",
        "/project/ports",
        "/project/routers",
        "/project/floating-ips",
        "/project/security-groups",
        f"/project/security-groups/{next(iter(group)).id}",
        "/project/containers",
        "/project/containers/counted",
    ]
    boss = web("admin", server.password("admin"))
    admin_paths = [
        "/admin/projects",
        "/admin/users",
        "/admin/flavors",
        "/admin/hypervisors",
        "/admin/compute-services",
        "/admin/instances",
        "/admin/quotas",
        "/admin/system",
    ]
    for session, path in [(member, p) for p in paths] + [(boss, p) for p in admin_paths]:
        response = session.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        calls = int(response.headers["x-dashboard-api-calls"])
        requests = int(response.headers["x-dashboard-api-requests"])
        assert 1 <= calls <= 2, (path, calls)
        assert requests >= calls, path
    # The launch form reads eight lists in its one call: counted, not hidden.
    assert member.get("/project/launch").headers["x-dashboard-api-requests"] == "8"


def test_the_overview_shows_recent_activity(
    admin: openstack.connection.Connection,
    tenant_web: tuple[Tenant, WebSession],
    tenant_factory: Callable[..., Tenant],
    web: Callable[[str, str], WebSession],
) -> None:
    tenant, member = tenant_web
    empty = member.get("/project/").text
    assert "Nothing yet." in empty
    name = f"recent-{uuid.uuid4().hex[:6]}"
    volume = tenant.conn.block_storage.create_volume(size=1, name=name)
    tenant.conn.block_storage.wait_for_status(volume, "available", wait=30, interval=0.1)
    page = member.get("/project/").text
    activity = page.split('id="recent-activity"', 1)[1].split("</table>", 1)[0]
    assert f'/project/volumes/{volume.id}">{name}</a>' in activity
    assert "available" in activity
    other = tenant_factory()
    them = web(other.user_name, other.password).get("/project/").text
    assert name not in them and volume.id not in them


def _stream(web: WebSession, path: str) -> list[str]:
    """The span names and the end event of a relayed trace stream."""
    seen: list[str] = []
    with web.http.stream("GET", path, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: end"):
                seen.append("<end>")
                break
            if line.startswith("data: "):
                seen.append(line.split('"name": "', 1)[1].split('"', 1)[0])
    return seen


def _wait_for(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_volume_and_image_pages_draw_their_workflow(
    tenant_web: tuple[Tenant, WebSession],
    tenant_factory: Callable[..., Tenant],
    web: Callable[[str, str], WebSession],
) -> None:
    tenant, member = tenant_web
    volume = tenant.conn.block_storage.create_volume(size=1, name="drawn")
    image = tenant.conn.image.create_image(
        name="drawn", data=b"x" * 70_000, disk_format="raw", container_format="bare"
    )
    for path, last, steps in (
        (f"/project/volumes/{volume.id}", "available", ("quota reserved", "scheduled")),
        (f"/project/images/{image.id}", "active", ("data stored", "checksums recorded")),
    ):
        _wait_for(lambda p=path, s=last: f'<td class="step">{s}' in member.get(p).text)
        page = member.get(path).text
        timeline = page.split('id="workflow"', 1)[1]
        for step in steps:
            assert f'<td class="step">{step}' in timeline, (path, step)
        assert f'data-stream="/dashboard{path}/trace/stream"' in page
        assert "/static/timeline.js" in page
        streamed = _stream(member, f"{path}/trace/stream")
        assert streamed[-1] == "<end>" and last in streamed and steps[0] in streamed
    other = tenant_factory()
    them = web(other.user_name, other.password)
    for path in (f"/project/volumes/{volume.id}", f"/project/images/{image.id}"):
        assert them.get(path).status_code == 404
        assert them.get(f"{path}/trace/stream").status_code == 404


def _volume_status(tenant: Tenant, volume_id: str, status: str) -> None:
    _wait_for(lambda: tenant.conn.block_storage.get_volume(volume_id).status == status)


def test_a_volume_attaches_from_either_side(
    admin: openstack.connection.Connection, tenant_web: tuple[Tenant, WebSession], image: str
) -> None:
    tenant, member = tenant_web
    _boot_many(admin, tenant, image, 1)
    server = next(iter(tenant.conn.compute.servers()))
    tenant.conn.compute.wait_for_server(server, wait=30, interval=0.1)
    volume = tenant.conn.block_storage.create_volume(size=1, name="both-sides")
    _volume_status(tenant, volume.id, "available")
    page = f"/project/volumes/{volume.id}"
    assert f'<option value="{server.id}">' in member.get(page).text  # the instance to pick
    for verb in ("attach", "detach"):
        answer = member.post(f"{page}/do/{verb}", {"server_id": server.id})
        assert answer.status_code == 303 and "error=" not in answer.headers["location"]
        _volume_status(tenant, volume.id, "in-use" if verb == "attach" else "available")
    action = f"/project/instances/{server.id}/action"
    offered = f'<option value="{volume.id}">both-sides</option>'  # the instance's own choices
    assert offered in member.get(f"/project/instances/{server.id}").text
    for verb in ("attach_volume", "detach_volume"):
        answer = member.post(action, {"action": verb, "volumeId": volume.id})
        assert answer.status_code == 303 and "error=" not in answer.headers["location"]
        _volume_status(tenant, volume.id, "in-use" if verb == "attach_volume" else "available")
        if verb == "attach_volume":  # now offered for detaching
            detach = f'<option value="{volume.id}">{volume.id}</option>'
            assert detach in member.get(f"/project/instances/{server.id}").text
    refused = member.post(action, {"action": "detach_volume", "volumeId": volume.id})
    assert "error=" in refused.headers["location"]  # not attached: the API's refusal, said


def test_gauges_filters_and_server_groups(
    admin: openstack.connection.Connection, tenant_web: tuple[Tenant, WebSession], image: str
) -> None:
    tenant, member = tenant_web
    _boot_many(admin, tenant, image, 2)
    for server in tenant.conn.compute.servers():
        tenant.conn.compute.wait_for_server(server, wait=30, interval=0.1)
    first = next(iter(tenant.conn.compute.servers(name="paged-1")))
    tenant.conn.compute.stop_server(first)
    tenant.conn.compute.wait_for_server(first, status="SHUTOFF", wait=30, interval=0.1)
    overview = member.get("/project/").text
    assert re.search(
        r'<meter min="0" max="\d+" value="2"[^>]*aria-label="Instances used"', overview
    )
    assert "2 of unlimited used" in overview
    assert _names(member.get("/project/instances?status=SHUTOFF").text, "instances") == ["paged-1"]
    assert _names(member.get("/project/instances?status=ACTIVE").text, "instances") == ["paged-2"]
    assert _names(member.get("/project/instances?name=paged-2").text, "instances") == ["paged-2"]
    made = member.post("/project/server-groups", {"name": "spread", "policy": "anti-affinity"})
    assert made.status_code == 303
    group = made.headers["location"].split("?")[0].removeprefix("/dashboard")
    assert "anti-affinity" in member.get(group).text
    assert "spread" in member.get("/project/server-groups").text
    bad = member.post("/project/server-groups", {"name": "x", "policy": "nonsense"})
    assert bad.status_code == 400 and 'class="error"' in bad.text
    assert member.post(f"{group}/delete").status_code == 303
    assert "spread" not in member.get("/project/server-groups").text


def _done(answer: object) -> str:
    """The page a successful form sent the browser to (no error said)."""
    location = str(answer.headers["location"])  # type: ignore[attr-defined]
    assert answer.status_code == 303 and "error=" not in location, location  # type: ignore[attr-defined]
    return location.split("?")[0].removeprefix("/dashboard")


def test_snapshots_backups_ports_and_floating_ips(
    admin: openstack.connection.Connection, tenant_web: tuple[Tenant, WebSession]
) -> None:
    tenant, member = tenant_web
    conn = tenant.conn
    volume = conn.block_storage.create_volume(size=1, name="kept")
    _volume_status(tenant, volume.id, "available")
    page = f"/project/volumes/{volume.id}"
    _done(member.post(f"{page}/do/snapshot", {"name": "snap-1"}))
    _wait_for(lambda: [s.status for s in conn.block_storage.snapshots()] == ["available"])
    assert "snap-1" in member.get("/project/volume-snapshots").text
    _done(member.post(f"{page}/do/backup", {"name": "bk-1"}))
    _wait_for(lambda: [b.status for b in conn.block_storage.backups()] == ["available"], 60)
    backup = next(iter(conn.block_storage.backups()))
    assert "bk-1" in member.get("/project/volume-backups").text
    _done(member.post(f"/project/volume-backups/{backup.id}/do/restore", {"name": "restored"}))
    _wait_for(lambda: any(v.name == "restored" for v in conn.block_storage.volumes()), 60)
    public = next(admin.network.networks(is_router_external=True))
    net = conn.network.create_network(name="inside")
    subnet = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.66.0.0/24")
    router = conn.network.create_router(name="out", external_gateway_info={"network_id": public.id})
    conn.network.add_interface_to_router(router, subnet_id=subnet.id)
    port_page = _done(member.post("/project/ports", {"name": "p1", "network_id": net.id}))
    assert "10.66.0." in member.get(port_page).text
    port_id = port_page.rsplit("/", 1)[1]
    made = member.post("/project/floating-ips", {"floating_network_id": public.id})
    fip_page = _done(made)
    _done(member.post(f"{fip_page}/do/associate", {"port_id": port_id}))
    fip = conn.network.get_ip(fip_page.rsplit("/", 1)[1])
    assert fip.port_id == port_id and fip.fixed_ip_address.startswith("10.66.0.")
    listed = member.get("/project/floating-ips").text
    assert fip.floating_ip_address in listed and fip.fixed_ip_address in listed


def test_launch_from_a_volume_and_from_a_volume_snapshot(
    tenant_web: tuple[Tenant, WebSession], image: str
) -> None:
    tenant, member = tenant_web
    conn = tenant.conn
    volume = conn.block_storage.create_volume(size=1, name="bootable", image_id=image)
    _volume_status(tenant, volume.id, "available")
    snapshot = conn.block_storage.create_snapshot(volume_id=volume.id, name="boot-snap")
    _wait_for(lambda: conn.block_storage.get_snapshot(snapshot.id).status == "available")
    form = member.get("/project/launch").text
    assert f'<option value="{volume.id}">bootable (1 GiB)</option>' in form
    assert f'<option value="{snapshot.id}">boot-snap (1 GiB)</option>' in form
    booted: list[str] = []
    try:
        for source, source_id in (("volume", volume.id), ("snapshot", snapshot.id)):
            fields = {
                "name": f"from-{source}",
                "source": source,
                f"source_id_{source}": source_id,
                "volume_size": "1",
                "flavor": "1",
                "count": "1",
            }
            booted.append(_done(member.post("/project/launch", fields)).rsplit("/", 1)[1])
            server = conn.compute.wait_for_server(
                conn.compute.get_server(booted[-1]), wait=60, interval=0.2
            )
            attached = [a["id"] for a in server.attached_volumes]
            assert len(attached) == 1 and not dict(server.image or {}).get("id")
            if source == "volume":
                assert attached == [volume.id]
            else:
                assert conn.block_storage.get_volume(attached[0]).snapshot_id == snapshot.id
    finally:  # their volumes' exports end with them
        for server_id in booted:
            gone = conn.compute.get_server(server_id)
            conn.compute.delete_server(gone)
            conn.compute.wait_for_delete(gone, wait=60, interval=0.2)


def test_default_and_per_project_quotas(
    admin: openstack.connection.Connection,
    admin_web: WebSession,
    tenant_factory: Callable[..., Tenant],
) -> None:
    boss, tenant = admin_web, tenant_factory()
    _done(boss.post("/admin/quotas", {"project_id": tenant.project_id, "compute:instances": "7"}))
    assert admin.get_compute_quotas(tenant.project_id).instances == 7
    assert (
        'name="compute:instances" type="number" min="-1" value="7"'
        in boss.get(f"/admin/quotas?project_id={tenant.project_id}").text
    )

    def default_key_pairs() -> int:
        body = admin.compute.get("/os-quota-class-sets/default").json()
        return int(body["quota_class_set"]["key_pairs"])

    before = default_key_pairs()
    page = boss.get("/admin/quotas?project_id=default").text
    assert f'name="compute:key_pairs" type="number" min="-1" value="{before}"' in page
    assert "network:" not in page  # the network service's defaults are not the API's to change
    try:
        _done(boss.post("/admin/quotas", {"project_id": "default", "compute:key_pairs": "321"}))
        assert default_key_pairs() == 321
        fresh = tenant_factory()
        assert admin.get_compute_quotas(fresh.project_id).key_pairs == 321
    finally:
        _done(
            boss.post("/admin/quotas", {"project_id": "default", "compute:key_pairs": str(before)})
        )
    assert default_key_pairs() == before
    refused = boss.post("/admin/quotas", {"project_id": "default", "compute:cores": "lots"})
    assert "error=" in refused.headers["location"]  # the API's refusal, said on the page


def test_admin_users_groups_flavor_access_and_aggregates(
    admin: openstack.connection.Connection,
    admin_web: WebSession,
    tenant_factory: Callable[..., Tenant],
    web: Callable[[str, str], WebSession],
) -> None:
    boss, tenant = admin_web, tenant_factory()
    tag = uuid.uuid4().hex[:6]
    user_page = _done(boss.post("/admin/users", {"name": f"u-{tag}", "password": "pw-" + tag}))
    user_id = user_page.rsplit("/", 1)[1]
    member = admin.identity.find_role("member")
    assign = {"project_id": tenant.project_id, "role_id": member.id}
    _done(boss.post(f"{user_page}/do/assign", assign))
    assert tenant.project_name in boss.get(user_page).text  # the assignment, listed under it
    assert web(f"u-{tag}", "pw-" + tag).get("/project/").status_code == 200  # signs in
    group_page = _done(boss.post("/admin/groups", {"name": f"g-{tag}"}))
    _done(boss.post(f"{group_page}/do/add-user", {"user_id": user_id}))
    group_id = group_page.rsplit("/", 1)[1]
    assert [u.id for u in admin.identity.group_users(group_id)] == [user_id]
    flavor_page = _done(
        boss.post("/admin/flavors", {"name": f"f-{tag}", "vcpus": "1", "ram": "64", "disk": "0"})
    )
    flavor_id = flavor_page.rsplit("/", 1)[1]

    def seen() -> bool:
        return any(f.id == flavor_id for f in tenant.conn.compute.flavors())

    assert not seen()  # private until a project is given access
    _done(boss.post(f"{flavor_page}/do/add-access", {"tenant": tenant.project_id}))
    assert seen()
    _done(boss.post(f"{flavor_page}/do/remove-access", {"tenant": tenant.project_id}))
    assert not seen()
    host = next(s.host for s in admin.compute.services() if s.binary == "nova-compute")
    aggregate_page = _done(
        boss.post("/admin/aggregates", {"name": f"a-{tag}", "availability_zone": f"z-{tag}"})
    )
    _done(boss.post(f"{aggregate_page}/do/add-host", {"host": host}))
    assert f"z-{tag}" in boss.get("/admin/zones").text
    _done(boss.post(f"{aggregate_page}/do/remove-host", {"host": host}))
    assert f"z-{tag}" not in boss.get("/admin/zones").text
    for page in (aggregate_page, flavor_page, group_page, user_page):
        _done(boss.post(f"{page}/delete"))
    assert admin.identity.find_user(user_id) is None
