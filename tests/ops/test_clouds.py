"""clouds.yaml and openrc: written on the first start, afterwards changed only where Overcast's
own entries changed, keeping what a user added; `overcast clouds` prints them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from overcast import clouds
from tests.helpers.server import Server, free_port
from tests.ops.command import overcast


@contextmanager
def _running(data_dir: Path, port: int, **env: str) -> Iterator[Server]:
    srv = Server(data_dir, port=port, env=env)
    try:
        yield srv.start()
    finally:
        srv.stop()


def test_a_users_clouds_and_lines_survive_restarts(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "cloud", free_port()
    user_config = tmp_path / "config"
    mine = {"auth": {"auth_url": "https://elsewhere/v3", "username": "me"}}
    (user_config / "openstack").mkdir(parents=True)
    (user_config / "openstack" / "clouds.yaml").write_text(
        yaml.safe_dump({"clouds": {"mine": mine}})
    )
    with _running(data_dir, port) as srv:
        path, openrc = srv.clouds_yaml, data_dir / "openrc"
        written = yaml.safe_load(path.read_text())
        assert set(written["clouds"]) == {"overcast", "overcast-demo"}
        assert overcast("clouds", "--data-dir", str(data_dir)).stdout == path.read_text()
        assert (
            overcast("clouds", "--openrc", "--data-dir", str(data_dir)).stdout == openrc.read_text()
        )
        written["clouds"]["mine"] = mine
        written["clouds"]["overcast"]["verify"] = False  # a key added to our own cloud
        path.write_text("# my clouds\n" + yaml.safe_dump(written, sort_keys=False))
        openrc.write_text(openrc.read_text() + "export MY_SETTING=1  # mine\n")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (path, openrc)}

    with _running(data_dir, port):  # nothing of ours changed: nothing rewritten
        assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (path, openrc)} == before

    new_port = free_port()
    with _running(data_dir, new_port, XDG_CONFIG_HOME=str(user_config)) as srv:
        kept = yaml.safe_load(path.read_text())["clouds"]
        assert kept["mine"] == mine and kept["overcast"]["verify"] is False
        assert kept["overcast"]["auth"]["auth_url"] == f"http://127.0.0.1:{new_port}/v3"
        assert kept["overcast-demo"]["auth"]["auth_url"] == f"http://127.0.0.1:{new_port}/v3"
        lines = openrc.read_text().splitlines()
        assert "export MY_SETTING=1  # mine" in lines
        assert f"export OS_AUTH_URL=http://127.0.0.1:{new_port}/v3" in lines
        assert srv.connect("overcast").identity.get_token() is not None


def test_user_clouds_flag_merges_into_the_users_file(tmp_path: Path) -> None:
    user_config = tmp_path / "config"
    target = user_config / "openstack" / "clouds.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(yaml.safe_dump({"clouds": {"mine": {"region_name": "r"}}}))
    data_dir, port = tmp_path / "cloud", free_port()
    started = overcast(
        "start", "--data-dir", str(data_dir), "--port", str(port), "--user-clouds",
        XDG_CONFIG_HOME=str(user_config),
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stdout
        merged = yaml.safe_load(target.read_text())["clouds"]
        assert set(merged) == {"mine", "overcast", "overcast-demo"}
        assert merged["overcast"]["auth"]["auth_url"] == f"http://127.0.0.1:{port}/v3"
    finally:
        overcast("stop", "--data-dir", str(data_dir))


def test_a_file_that_is_not_ours_to_parse_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "clouds.yaml"
    path.write_text("clouds: [not, a, mapping]\n")
    assert clouds.merge_clouds_yaml(path, {"overcast": {"a": 1}}) is False
    path.write_text("clouds: {: broken\n")
    assert clouds.merge_clouds_yaml(path, {"overcast": {"a": 1}}) is False
    assert path.read_text() == "clouds: {: broken\n"
    rc = tmp_path / "openrc"
    assert clouds.merge_openrc(rc, {"OS_PASSWORD": "it's $x"}) is True
    assert rc.read_text() == "export OS_PASSWORD='it'\"'\"'s $x'\n"
    assert clouds.merge_openrc(rc, {"OS_PASSWORD": "it's $x"}) is False
