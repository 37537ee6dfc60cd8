"""`overcast systemd-units`: the systemd unit files of one node, written into a directory.

One unit per `overcast serve` command the node runs (`--role controller --workers 2` on a
controller, `--role compute,network` on a compute node...), each restarted on failure, started
after the network and, when they run on the same node, after RabbitMQ and the database server.
Settings come from the TOML file given with `--config` (copied to nothing: the unit points at
it) or the environment file `/etc/overcast/overcast.env`. Called by `overcast.cli`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from overcast import serve
from overcast.common import config
from overcast.common.files import atomic_write

ENV_FILE = "/etc/overcast/overcast.env"
LOCAL_SERVERS = "rabbitmq-server.service postgresql.service mariadb.service"


def unit(
    roles: str, workers: int, data_dir: Path, config_file: Path | None, settings: config.Settings
) -> str:
    parse = serve.parse_roles(roles)  # refuses unknown roles before anything is written
    command = [sys.executable, "-m", "overcast.cli", "serve", "--role", roles]
    command += ["--data-dir", str(data_dir)]
    if workers > 1 and "api" in parse:
        command += ["--workers", str(workers)]
    if config_file is not None:
        command += ["--config", str(config_file.resolve())]
    what = ", ".join(sorted(parse))
    return (
        "[Unit]\n"
        f"Description=Overcast {what} on {settings.host_name}\n"
        "Wants=network-online.target\n"
        f"After=network-online.target {LOCAL_SERVERS}\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"EnvironmentFile=-{ENV_FILE}\n"
        f"ExecStart={shlex.join(command)}\n"
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=30\n"
        "Restart=on-failure\n"
        "RestartSec=2\n"
        "LimitNOFILE=65536\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def name_of(roles: str) -> str:
    return "overcast-" + "-".join(part.strip() for part in roles.split(",") if part.strip())


def add_parser(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
    settings_of: Callable[[argparse.Namespace], config.Settings],
) -> None:
    units = sub.add_parser("systemd-units", help="write this node's systemd unit files")
    common(units)
    units.add_argument(
        "--role",
        action="append",
        required=True,
        help="the roles of one `overcast serve` (repeat for several units)",
    )
    units.add_argument("--workers", type=int, default=1, help="API processes of an api unit")
    units.add_argument("--out", type=Path, default=Path("/etc/systemd/system"))

    def run(args: argparse.Namespace) -> int:
        settings = settings_of(args)
        args.out.mkdir(parents=True, exist_ok=True)
        for roles in args.role:
            text = unit(roles, args.workers, settings.data_dir, args.config, settings)
            path = args.out / f"{name_of(roles)}.service"
            atomic_write(path, text.encode(), 0o644)
            print(path)
        print(
            "then: systemctl daemon-reload && systemctl enable --now "
            + " ".join(f"{name_of(r)}.service" for r in args.role)
        )
        return 0

    units.set_defaults(func=run)
