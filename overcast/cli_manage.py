"""The command line of `overcast start | status | wait | stop | down | clouds` and of
`up --detach`;
`overcast.cli` hands its sub-parsers here, `overcast.control` does the work."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from overcast import control
from overcast.common import config

Settings = Callable[[argparse.Namespace], config.Settings]
UP_FLAGS = ("host", "port", "config", "database_url", "log_level")


def up_options(parser: argparse.ArgumentParser) -> None:
    """The options `up` and `start` share (beside `--data-dir`, `--config`, `--database-url`)."""
    parser.add_argument("--host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default 5000)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING...")
    parser.add_argument(
        "--user-clouds",
        action="store_true",
        help="also add the clouds to ~/.config/openstack/clouds.yaml",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="with --detach: seconds to wait for every service to answer (default 300)",
    )


def start(args: argparse.Namespace, settings: Settings) -> int:
    """`overcast start` / `up --detach`: the same `up`, in the background, once it answers."""
    forwarded: list[str] = []
    for name in UP_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            forwarded += [f"--{name.replace('_', '-')}", str(value)]
    if args.user_clouds:
        forwarded.append("--user-clouds")
    return control.start(settings(args).data_dir, forwarded, args.timeout)


def register(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
    settings: Settings,
) -> None:
    """Add start, status, wait, stop, down and clouds to the `overcast` command."""
    cmd = sub.add_parser("start", help="run the cloud in the background; return once it answers")
    common(cmd)
    up_options(cmd)
    cmd.set_defaults(func=lambda a: start(a, settings))

    cmd = sub.add_parser("status", help="what runs in the data dir, where, and whether it answers")
    common(cmd)
    cmd.add_argument("--json", action="store_true", help="one JSON document")
    cmd.set_defaults(func=lambda a: control.status(settings(a).data_dir, a.json))

    cmd = sub.add_parser("wait", help="wait until the cloud in the data dir answers")
    common(cmd)
    cmd.add_argument("--timeout", type=float, default=300.0, help="seconds (default 300)")
    cmd.add_argument("--quiet", "-q", action="store_true")
    cmd.set_defaults(func=lambda a: control.wait(settings(a).data_dir, a.timeout, a.quiet))

    cmd = sub.add_parser("stop", help="stop the cloud in the data dir, letting work settle")
    common(cmd)
    cmd.add_argument(
        "--timeout",
        type=float,
        help="seconds before it is killed (default: 2 x shutdown_timeout + 15)",
    )

    def stop(a: argparse.Namespace) -> int:
        s = settings(a)
        return control.stop(s.data_dir, a.timeout or 2 * s.shutdown_timeout + 15)

    cmd.set_defaults(func=stop)

    cmd = sub.add_parser(
        "down", help="stop the cloud, then remove its network dataplane (namespaces, dnsmasq)"
    )
    common(cmd)

    def down(a: argparse.Namespace) -> int:
        s = settings(a)
        stopped = control.stop(s.data_dir, 2 * s.shutdown_timeout + 15)
        if stopped:
            return stopped
        from overcast.network import drivers  # only now: it probes the host

        print(f"overcast: {drivers.remove_dataplane(s)}")
        return 0

    cmd.set_defaults(func=down)

    cmd = sub.add_parser("clouds", help="print the clouds.yaml (or openrc) of the data dir")
    common(cmd)
    cmd.add_argument("--openrc", action="store_true", help="the openrc file instead")
    cmd.set_defaults(func=lambda a: control.clouds(settings(a).data_dir, a.openrc))
