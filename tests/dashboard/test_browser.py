"""The browser suite: a real headless Chromium (Playwright) against a real `overcast up` (fake
compute driver): log in, launch from the form and watch the instance reach ACTIVE, its
actions, images (upload with progress, edit, share and accept), key pairs, the network,
volume and object pages, the admin pages, a second project's user who sees none of it, and
logout. Screenshots of the main pages go to the artifacts directory."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import openstack
import pytest

from tests.dashboard.browser import User, playwright_api
from tests.helpers.isolation import Tenant
from tests.helpers.server import Server

expect = playwright_api.expect
pytestmark = pytest.mark.xdist_group("dashboard-browser")


@pytest.fixture
def users(browser: object, server: Server) -> Iterator[Callable[[str, str], User]]:
    made: list[User] = []

    def make(name: str, password: str) -> User:
        user = User(browser, server.url + "/dashboard").login(name, password)
        made.append(user)
        return user

    yield make
    for user in made:
        assert not [p for p in user.problems if "Content Security Policy" in p], user.problems
        user.close()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _act(user: User, label: str, status: str, fill: dict[str, str] | None = None) -> None:
    page = user.page
    if fill:
        page.locator("details", has_text=label).locator("summary").first.click()
        form = page.locator("details", has_text=label).first
        for name, value in fill.items():
            form.locator(f"input[name={name}]").fill(value)
        form.locator("button[type=submit]").click()
    else:
        page.locator(
            "#actions ~ .actions form", has=page.get_by_role("button", name=label, exact=True)
        ).first.get_by_role("button", name=label, exact=True).click()
    expect(page.locator("p.notice, p.error").first).to_contain_text(label)
    expect(page.locator("p.error")).to_have_count(0)
    expect(page.locator("#status")).to_have_text(status, timeout=30_000)
    expect(page.locator("#task")).to_have_text("none", timeout=30_000)


def test_launch_from_the_form_and_every_action(
    server: Server, users: Callable[[str, str], User], image: str
) -> None:
    demo = users("demo", server.password("demo"))
    demo.shot("overview")
    demo.go("/project/launch")
    page = demo.page
    name = _unique("web")
    page.fill("input[name=name]", name)
    page.select_option("#source_id_image", image)
    page.select_option("select[name=flavor]", label="m1.tiny: 1 VCPU, 512 MiB, 1 GiB")
    page.fill("input[name=count]", "1")
    expect(page.locator("#cli")).to_contain_text("openstack server create")
    expect(page.locator("#cli")).to_contain_text("--flavor 1")
    expect(page.locator("#cli")).to_contain_text(name)
    expect(page.locator("#rest")).to_contain_text('"flavorRef": "1"')
    expect(page.locator("#use-ram")).to_have_text("512")
    page.fill("input[name=count]", "3")
    expect(page.locator("#use-cores")).to_have_text("3")
    page.fill("input[name=count]", "1")
    demo.shot("launch")
    page.click("#launch button[type=submit]")
    page.wait_for_url("**/project/instances/*")
    expect(page.locator("#status")).to_have_text("ACTIVE", timeout=30_000)
    timeline = page.locator("#timeline")
    for step in ("token checked", "quota reserved", "scheduled", "resources claimed", "ACTIVE"):
        expect(timeline).to_contain_text(step)
    expect(timeline.locator("tr.failed")).to_have_count(0)
    demo.shot("instance")
    page.click("text=Graphical console")
    expect(page.locator("iframe#vnc")).to_have_attribute("src", re.compile("/console/novnc/"))
    page.go_back()
    for label, status in (
        ("Stop", "SHUTOFF"),
        ("Start", "ACTIVE"),
        ("Soft reboot", "ACTIVE"),
        ("Hard reboot", "ACTIVE"),
        ("Pause", "PAUSED"),
        ("Unpause", "ACTIVE"),
        ("Suspend", "SUSPENDED"),
        ("Resume", "ACTIVE"),
        ("Unlock", "ACTIVE"),
        ("Rescue", "RESCUE"),
        ("Unrescue", "ACTIVE"),
        ("Shelve", "SHELVED_OFFLOADED"),
        ("Unshelve", "ACTIVE"),
    ):
        _act(demo, label, status)
    _act(demo, "Rename", "ACTIVE", {"name": name + "-renamed"})
    expect(page.locator("h1")).to_contain_text(name + "-renamed")
    _act(demo, "Lock", "ACTIVE", {"locked_reason": "testing"})
    _act(demo, "Unlock", "ACTIVE")
    _act(demo, "Resize", "VERIFY_RESIZE", {"flavorRef": "2"})
    expect(page.locator("#workflow")).to_contain_text("resize")
    expect(timeline).to_contain_text("destination host started the guest")
    _act(demo, "Confirm resize", "ACTIVE")
    _act(demo, "Rebuild", "ACTIVE", {"imageRef": image})
    _act(demo, "Create snapshot", "ACTIVE", {"name": name + "-snap"})
    expect(page.locator("#action-log")).to_contain_text("createImage")
    page.click("text=Console log")
    expect(page.locator("#console-log")).not_to_be_empty()
    page.go_back()
    page.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_url("**/project/instances?**")
    demo.shot("instances")


def test_launch_with_every_option(
    server: Server, users: Callable[[str, str], User], image: str
) -> None:
    """A new volume from an image, a network, a security group, a key pair made inline, user
    data and a count of two: the form, its equal command, and what the API then holds."""
    api = server.connect("overcast-demo")
    net = api.network.create_network(name=_unique("lnet"))
    api.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.88.0.0/24")
    demo = users("demo", server.password("demo"))
    demo.go("/project/launch")
    page = demo.page
    name = _unique("full")
    page.fill("input[name=name]", name)
    page.check("input[name=source][value=image_volume]")
    page.select_option("select[name=source_id_image_volume]", image)
    page.fill("input[name=volume_size]", "1")
    page.select_option("select[name=flavor]", label="m1.tiny: 1 VCPU, 512 MiB, 1 GiB")
    page.check(f"input[name=networks][value='{net.id}']")
    page.check("input[name=security_groups][value=default]")
    page.locator("#new-key summary").click()
    key = _unique("key")
    page.fill("#new-key-name", key)
    with page.expect_download() as download:
        page.click("#new-key-create")
    assert "PRIVATE KEY" in Path(download.value.path()).read_text()
    expect(page.locator("#key_name")).to_have_value(key)
    page.fill("textarea[name=user_data]", "#!/bin/sh\necho hello")
    page.fill("input[name=count]", "2")
    cli = page.locator("#cli")
    for part in ("--boot-from-volume 1", f"--network {net.id}", f"--key-name {key}", "--min 2"):
        expect(cli).to_contain_text(part)
    expect(page.locator("#rest")).to_contain_text('"destination_type": "volume"')
    expect(page.locator("#use-instances")).to_have_text("2")
    page.click("#launch button[type=submit]")
    page.wait_for_url("**/project/instances?**")
    made = [s for s in api.compute.servers() if s.name.startswith(name)]
    assert len(made) == 2
    try:
        for found in made:
            found = api.compute.wait_for_server(found, wait=60, interval=0.2)
            assert found.key_name == key and not dict(found.image or {}).get("id")  # its volume
            assert [g["name"] for g in found.security_groups] == ["default"]
            assert net.name in found.addresses
            assert len(found.attached_volumes) == 1
    finally:
        for found in made:
            api.compute.delete_server(found)
            api.compute.wait_for_delete(found, wait=60, interval=0.2)
        api.compute.delete_keypair(key)
        api.network.delete_network(net)


def test_a_refused_launch_says_why_next_to_the_field(
    server: Server, users: Callable[[str, str], User], image: str
) -> None:
    demo = users("demo", server.password("demo"))
    demo.go("/project/launch")
    page = demo.page
    page.fill("input[name=name]", _unique("big"))
    page.select_option("#source_id_image", image)
    page.select_option("select[name=flavor]", index=1)
    page.fill("input[name=count]", "1000")
    expect(page.locator("#quota-warning")).to_be_visible()
    page.click("#launch button[type=submit]")
    expect(page.locator("#launch-error")).to_contain_text("uota")
    expect(page.locator("#err-count")).to_be_visible()


def test_images_upload_edit_share_and_accept(
    server: Server,
    users: Callable[[str, str], User],
    tenant_factory: Callable[..., Tenant],
    tmp_path: Path,
) -> None:
    data = tmp_path / "disk.raw"
    data.write_bytes(b"\1" * (3 << 20))
    demo = users("demo", server.password("demo"))
    demo.go("/project/images")
    page = demo.page
    name = _unique("upload")
    page.fill("#create-image input[name=name]", name)
    page.select_option("#create-image select[name=visibility]", "shared")
    page.set_input_files("#image-file", str(data))
    page.click("#create-image button[type=submit]")
    page.wait_for_url("**/project/images/*?notice=*")
    expect(page.locator("#properties")).to_contain_text("active")
    expect(page.locator("#properties")).to_contain_text(str(3 << 20))
    page.fill("#edit-image input[name=name]", name + "-edited")
    page.click("#edit-image button[type=submit]")
    expect(page.locator("h1")).to_contain_text(name + "-edited")
    other = tenant_factory()
    page.fill("#share-image input[name=member]", other.project_id)
    page.click("#share-image button[type=submit]")
    expect(page.locator("#members")).to_contain_text(other.project_id)
    demo.shot("image")
    image_id = page.url.split("/images/")[1].split("?")[0]
    them = users(other.user_name, other.password)
    them.go(f"/project/images/{image_id}")
    them.page.get_by_role("button", name="Accept").click()
    expect(them.page.locator("p.notice")).to_contain_text("accepted")
    them.go("/project/images")
    expect(them.page.locator("#images")).to_contain_text(name + "-edited")


def test_key_pairs_create_import_download_delete(
    server: Server, users: Callable[[str, str], User]
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    demo = users("demo", server.password("demo"))
    demo.go("/project/keypairs")
    page = demo.page
    made = _unique("kp")
    page.fill("#create-keypair input[name=name]", made)
    page.click("#create-keypair button[type=submit]")
    expect(page.locator("#private-key")).to_contain_text("PRIVATE KEY")
    with page.expect_download() as download:
        page.click("#download-private-key")
    assert b"PRIVATE KEY" in Path(download.value.path()).read_bytes()
    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    imported = _unique("imp")
    page.fill("#import-keypair input[name=name]", imported)
    page.fill("#import-keypair textarea[name=public_key]", public)
    page.click("#import-keypair button[type=submit]")
    expect(page.locator("#keypairs")).to_contain_text(imported)
    page.fill("#create-keypair input[name=name]", made)  # a duplicate: the API's own refusal
    page.click("#create-keypair button[type=submit]")
    expect(page.locator("#form-error")).to_contain_text(made)
    demo.shot("keypairs")
    demo.go(f"/project/keypairs/{imported}")
    expect(page.locator("#public-key")).to_contain_text("ssh-ed25519")
    for kp in (made, imported):
        demo.go("/project/keypairs")
        page.locator("tr", has_text=kp).get_by_role("button", name="Delete").click()
        expect(page.locator("#keypairs")).not_to_contain_text(kp)


def test_network_volume_and_object_pages(
    server: Server, users: Callable[[str, str], User], tmp_path: Path
) -> None:
    demo = users("demo", server.password("demo"))
    page = demo.page
    net = _unique("net")
    demo.go("/project/networks")
    page.fill("#create-networks input[name=name]", net)
    page.click("#create-networks button[type=submit]")
    expect(page.locator("h1")).to_contain_text(net)
    demo.go("/project/subnets")
    page.select_option("#create-subnets select[name=network_id]", label=net)
    page.fill("#create-subnets input[name=cidr]", "not-a-cidr")
    page.click("#create-subnets button[type=submit]")
    expect(page.locator("#form-error")).to_be_visible()
    page.fill("#create-subnets input[name=cidr]", "10.77.0.0/24")
    page.fill("#create-subnets input[name=name]", net + "-sub")
    page.click("#create-subnets button[type=submit]")
    expect(page.locator("#properties")).to_contain_text("10.77.0.0/24")
    demo.go("/project/routers")
    page.fill("#create-routers input[name=name]", net + "-router")
    page.click("#create-routers button[type=submit]")
    page.locator("#action-add-interface summary").click()
    page.select_option("#action-add-interface select[name=subnet_id]", label=net + "-sub")
    page.locator("#action-add-interface button[type=submit]").click()
    expect(page.locator("p.notice")).to_contain_text("done")
    demo.go("/project/security-groups")
    page.fill("#create-security-groups input[name=name]", net + "-sg")
    page.click("#create-security-groups button[type=submit]")
    page.locator("#action-add-rule summary").click()
    page.fill("#action-add-rule input[name=protocol]", "tcp")
    page.fill("#action-add-rule input[name=port_range_min]", "22")
    page.fill("#action-add-rule input[name=port_range_max]", "22")
    page.locator("#action-add-rule button[type=submit]").click()
    expect(page.locator("main table").last).to_contain_text("22")
    demo.go("/project/networks")
    demo.shot("networks")
    demo.go("/project/topology")
    drawing = page.locator("#topology-drawing")
    expect(drawing).to_contain_text(net)
    expect(drawing).to_contain_text((net + "-router")[:12])
    assert page.locator("#topology-drawing .link").count() >= 1
    demo.shot("topology")
    api = server.connect("overcast-demo")
    later = api.network.create_network(name=_unique("later"))
    expect(drawing).to_contain_text(later.name[:12], timeout=20_000)  # redrawn without a reload
    api.network.delete_network(later)

    demo.go("/project/volumes")
    vol = _unique("vol")
    page.fill("#create-volumes input[name=name]", vol)
    page.fill("#create-volumes input[name=size]", "1")
    page.click("#create-volumes button[type=submit]")
    expect(page.locator("h1")).to_contain_text(vol)
    for _ in range(30):
        if "available" in page.locator("#properties").inner_text():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("#properties")).to_contain_text("available")
    expect(page.locator("#timeline")).to_contain_text("quota reserved")  # its create, drawn
    demo.go("/project/volumes")
    demo.shot("volumes")

    demo.go("/project/containers")
    box = _unique("box")
    page.fill("#create-container input[name=name]", box)
    page.check("#create-container input[name=public]")
    page.click("#create-container button[type=submit]")
    page.fill("#create-folder input[name=folder]", "docs")
    page.click("#create-folder button[type=submit]")
    page.click("text=docs/")
    upload = tmp_path / "hello <b>.txt"
    upload.write_text("hello object")
    page.set_input_files("#upload-object input[type=file]", str(upload))
    page.click("#upload-object button[type=submit]")
    expect(page.locator("#objects")).to_contain_text("hello <b>.txt")
    with page.expect_download() as download:
        page.click("text=Download")
    assert Path(download.value.path()).read_text() == "hello object"
    link = page.get_by_role("link", name="Public link").get_attribute("href")
    assert link and httpx_get(link) == "hello object"
    demo.shot("objects")


def httpx_get(url: str) -> str:
    import httpx

    return httpx.get(url).text


def test_api_access_downloads(server: Server, users: Callable[[str, str], User]) -> None:
    demo = users("demo", server.password("demo"))
    demo.go("/project/api-access")
    with demo.page.expect_download() as download:
        demo.page.click("#download-clouds")
    text = Path(download.value.path()).read_text()
    assert "auth_url: " + server.url + "/v3" in text and "username: demo" in text
    with demo.page.expect_download() as download:
        demo.page.click("#download-openrc")
    assert "OS_PROJECT_NAME='demo'" in Path(download.value.path()).read_text()


ADMIN_PAGES = (
    "projects",
    "users",
    "groups",
    "roles",
    "flavors",
    "hypervisors",
    "compute-services",
    "aggregates",
    "zones",
    "instances",
    "quotas",
    "system",
)


def test_admin_pages(server: Server, users: Callable[[str, str], User]) -> None:
    admin = users("admin", server.password("admin"))
    page = admin.page
    for name in ADMIN_PAGES:
        response = admin.go(f"/admin/{name}")
        assert response.status == 200, name  # type: ignore[attr-defined]
        expect(page.locator("h1")).to_be_visible()
        admin.shot(f"admin-{name}")
    admin.go("/admin/compute-services")
    page.locator("#compute-services tbody a").first.click()
    page.locator("#action-disable summary").click()
    page.fill("#action-disable input[name=disabled_reason]", "maintenance")
    page.locator("#action-disable button[type=submit]").click()
    expect(page.locator("#properties")).to_contain_text("disabled")
    page.locator("#action-enable button[type=submit]").click()
    expect(page.locator("#properties")).to_contain_text("enabled")
    admin.go("/admin/flavors")
    flavor = _unique("fl")
    page.fill("#create-flavors input[name=name]", flavor)
    page.fill("#create-flavors input[name=vcpus]", "1")
    page.fill("#create-flavors input[name=ram]", "64")
    page.fill("#create-flavors input[name=disk]", "0")
    page.click("#create-flavors button[type=submit]")
    page.locator("#action-extra-spec summary").click()
    page.fill("#action-extra-spec input[name=key]", "hw:cpu_policy")
    page.fill("#action-extra-spec input[name=value]", "shared")
    page.locator("#action-extra-spec button[type=submit]").click()
    expect(page.locator("#properties")).to_contain_text("hw:cpu_policy")
    page.get_by_role("button", name="Delete").click()


def test_a_member_gets_no_admin_page(server: Server, users: Callable[[str, str], User]) -> None:
    demo = users("demo", server.password("demo"))
    assert demo.go("/admin/users").status == 403  # type: ignore[attr-defined]
    expect(demo.page.locator("nav.side")).not_to_contain_text("Hypervisors")


def test_another_project_sees_none_of_it(
    server: Server,
    users: Callable[[str, str], User],
    demo: openstack.connection.Connection,
    tenant_factory: Callable[..., Tenant],
    image: str,
) -> None:
    flavor = demo.compute.find_flavor("m1.tiny")
    name = _unique("secret")
    made = demo.compute.create_server(
        name=name, flavor_id=flavor.id, image_id=image, networks="none"
    )
    other = tenant_factory()
    them = users(other.user_name, other.password)
    for path in ("/project/instances", "/project/networks", "/project/volumes", "/project/"):
        them.go(path)
        expect(them.page.locator("main")).not_to_contain_text(name)
        expect(them.page.locator("main")).not_to_contain_text("private")
    assert them.go(f"/project/instances/{made.id}").status == 404  # type: ignore[attr-defined]
    demo.compute.delete_server(made.id)


def test_logout_ends_the_session(server: Server, users: Callable[[str, str], User]) -> None:
    demo = users("demo", server.password("demo"))
    demo.page.get_by_role("button", name="Log out").click()
    demo.page.wait_for_url("**/auth/login")
    demo.go("/project/instances")
    expect(demo.page).to_have_url(
        re.compile(r"/auth/login\?next=%2Fdashboard%2Fproject%2Finstances")
    )


def test_a_failed_boot_says_why_to_its_owner(
    server: Server,
    users: Callable[[str, str], User],
    admin: openstack.connection.Connection,
    demo: openstack.connection.Connection,
    image: str,
) -> None:
    # Within the project's RAM quota (51,200 MiB), beyond any fake host's 32,768 MiB.
    huge = admin.compute.create_flavor(name=_unique("huge"), vcpus=1, ram=40_000, disk=1)
    try:
        made = demo.compute.create_server(
            name=_unique("nohost"), flavor_id=huge.id, image_id=image, networks="none"
        )
        them = users("demo", server.password("demo"))
        them.go(f"/project/instances/{made.id}")
        expect(them.page.locator("#status")).to_have_text("ERROR", timeout=30_000)
        failed = them.page.locator("#timeline tr.failed")
        expect(failed.first).to_be_visible()
        expect(failed.first).to_contain_text(re.compile("RAM|MEMORY_MB|memory", re.I))
        them.shot("failed-boot")
        demo.compute.delete_server(made.id)
    finally:
        admin.compute.delete_flavor(huge.id)


def test_usable_by_keyboard_on_a_narrow_screen(
    server: Server, users: Callable[[str, str], User]
) -> None:
    demo = users("demo", server.password("demo"))
    page = demo.page
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/project/", "/project/instances", "/project/launch", "/project/volumes"):
        demo.go(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)  # nothing wider than the screen but its own scroller
    demo.go("/project/launch")
    demo.shot("launch-narrow")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#main$"))
    for _ in range(80):  # the form's first field is reached with Tab alone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "name":
            break
    page.keyboard.type("typed")
    expect(page.locator("#cli")).to_contain_text("typed")
