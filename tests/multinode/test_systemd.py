"""`overcast systemd-units` writes one unit per `serve` command of a node, which systemd accepts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

OVERCAST = [sys.executable, "-m", "overcast.cli"]


def test_units_for_a_controller_and_a_compute_node(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *OVERCAST,
            "systemd-units",
            "--data-dir",
            "/var/lib/overcast",
            "--out",
            str(tmp_path),
            "--role",
            "controller",
            "--workers",
            "2",
            "--role",
            "compute,network",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "systemctl daemon-reload" in done.stdout
    controller = (tmp_path / "overcast-controller.service").read_text()
    compute = (tmp_path / "overcast-compute-network.service").read_text()
    assert "serve --role controller --data-dir /var/lib/overcast --workers 2" in controller
    assert "serve --role compute,network --data-dir /var/lib/overcast\n" in compute
    assert "Restart=on-failure" in compute and "After=network-online.target" in compute
    if shutil.which("systemd-analyze"):
        for unit in tmp_path.iterdir():
            check = subprocess.run(
                ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
            )
            assert check.returncode == 0, check.stderr


def test_an_unknown_role_writes_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [*OVERCAST, "systemd-units", "--out", str(tmp_path), "--role", "hypervisor"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "unknown role 'hypervisor'" in done.stderr
    assert list(tmp_path.iterdir()) == []
