"""The `overcast` command: up | start | status | wait | stop | clouds | image build | keys rotate |
db upgrade | db revision | ring | trace."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from overcast import cli_manage, cli_trace, serve, systemd
from overcast.common import config, log


def _settings(args: argparse.Namespace) -> config.Settings:
    return config.load(
        args.config,
        data_dir=args.data_dir,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        database_url=getattr(args, "database_url", None),
        log_level=getattr(args, "log_level", None),
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="where state lives")
    parser.add_argument("--config", type=Path, help="a TOML settings file")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in data dir)")


def cmd_up(args: argparse.Namespace) -> int:
    from overcast import up

    if args.detach:
        return cli_manage.start(args, _settings)
    settings = _settings(args)
    log.setup(settings.log_level)
    return up.run(settings, user_clouds=args.user_clouds)


def cmd_image_build(args: argparse.Namespace) -> int:
    from overcast.compute.guest import build, plainboot, register

    settings = _settings(args)
    built = build.ensure(register.image_dir(settings), force=args.force, say=print)
    if not built.built:
        print(f"guest image up to date: {built.path} (kernel {built.kernel})")
    if args.verify:
        machine = plainboot.Machine(machine=register.PROPERTIES["hw_machine_type"])
        boot = asyncio.run(plainboot.boot(built.path, machine, timeout=args.timeout))
        if boot.banner_s is None:
            print("\n".join(boot.console[-20:]))
            print(f"the guest did not reach its banner within {args.timeout:.0f} s")
            return 1
        print(
            f"booted under plain QEMU ({machine.machine}, {machine.accel}) to its banner "
            f"in {boot.banner_s:.1f} s"
        )
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from overcast.identity import credential_keys
    from overcast.identity.keys import KeyRepository

    settings = _settings(args)
    if args.credentials:
        primary, count = asyncio.run(credential_keys.rotate(settings))
        print(f"rotated: credential primary key is now {primary}; {count} credentials re-encrypted")
        return 0
    repo = KeyRepository(settings.data_dir / "fernet-keys", settings.identity.max_active_keys)
    primary = repo.rotate()
    print(f"rotated: primary key is now {primary}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from overcast import app, up

    settings = _settings(args)
    owner = up.own(settings.data_dir)  # never under a running cloud
    try:
        asyncio.run(app.upgrade_all(settings))
    finally:
        owner.release()
    return 0


def cmd_ring(args: argparse.Namespace) -> int:
    from overcast.common import errors
    from overcast.object_store.ring import commands

    try:
        print(commands.run(_settings(args), args))
    except errors.OvercastError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


def cmd_db_revision(args: argparse.Namespace) -> int:
    """Autogenerate a revision for one service against a scratch SQLite at its head."""
    import tempfile

    from alembic import command

    from overcast import services
    from overcast.common.db import migrate

    service = next(s for s in services.all_services() if s.name == args.service)
    assert service.migrations is not None
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/scratch.db"
        cfg = migrate.alembic_config(service.name, service.migrations, url)
        command.upgrade(cfg, "head")
        command.revision(cfg, message=args.message, autogenerate=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="overcast", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole cloud in one process")
    _common(up)
    cli_manage.up_options(up)
    up.add_argument("--detach", "-d", action="store_true", help="the same as `overcast start`")
    up.set_defaults(func=cmd_up)
    cli_manage.register(sub, _common, _settings)
    serve.add_parser(sub, _common, _settings)
    systemd.add_parser(sub, _common, _settings)

    keys = sub.add_parser("keys", help="token and credential key repositories").add_subparsers(
        dest="keys", required=True
    )
    rotate = keys.add_parser("rotate", help="promote the staged key, stage a new one")
    rotate.add_argument(
        "--credentials",
        action="store_true",
        help="the credential keys instead of the token keys (re-encrypts every credential)",
    )
    _common(rotate)
    rotate.set_defaults(func=cmd_keys_rotate)

    image = sub.add_parser("image", help="the guest image").add_subparsers(
        dest="image", required=True
    )
    image_build = image.add_parser(
        "build", help="build the guest image from Debian packages (cached in the data dir)"
    )
    _common(image_build)
    image_build.add_argument("--force", action="store_true", help="rebuild even when cached")
    image_build.add_argument(
        "--verify", action="store_true", help="then boot it under plain QEMU to its banner"
    )
    image_build.add_argument("--timeout", type=float, default=120.0, help="--verify's limit, s")
    image_build.set_defaults(func=cmd_image_build)

    db = sub.add_parser("db", help="database migrations").add_subparsers(dest="db", required=True)
    upgrade = db.add_parser("upgrade", help="apply every service's migrations")
    _common(upgrade)
    upgrade.set_defaults(func=cmd_db_upgrade)
    revision = db.add_parser("revision", help="autogenerate a migration for one service")
    revision.add_argument("--service", required=True)
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(func=cmd_db_revision, data_dir=None, config=None)

    from overcast.object_store.ring import commands as ring_commands

    ring_commands.add_parser(sub, _common).set_defaults(func=cmd_ring)
    cli_trace.add_parser(sub)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
