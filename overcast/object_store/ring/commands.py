"""`overcast ring ...`: the operator's view of the ring builder. Each command loads the
builder, changes it, saves it, and (for `rebalance`) writes the ring the servers reload.

    overcast ring show
    overcast ring add --region 1 --zone 4 --weight 100 --device d4 [--host local]
    overcast ring set-weight ID WEIGHT
    overcast ring remove ID
    overcast ring rebalance [--seed N]
    overcast ring init-device --device d1      (on the node that holds it: put it in service)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from overcast.common import errors
from overcast.common.config import Settings
from overcast.object_store import layout
from overcast.object_store.drivers.local import DEVICE_NAME, init_device
from overcast.object_store.ring.builder import RingBuilder


def show(builder: RingBuilder) -> str:
    counts: dict[int, int] = {}
    for row in builder.replica2part2dev:
        for dev_id in row:
            counts[dev_id] = counts.get(dev_id, 0) + 1
    lines = [
        f"{builder.parts} partitions, {builder.replicas} replicas, "
        f"min_part_hours {builder.min_part_hours}, version {builder.version}, "
        f"balance {builder.balance():.2f}%",
        "id region zone weight partitions host device",
    ]
    for d in builder.devices:
        lines.append(
            f"{d.id} {d.region} {d.zone} {d.weight:g} {counts.get(d.id, 0)} {d.host} {d.device}"
        )
    return "\n".join(lines)


def _device_name(name: str) -> str:
    if not DEVICE_NAME.fullmatch(name):
        raise errors.BadRequest(f"{name!r} is not a device name (letters, digits, . _ -)")
    return name


def run(settings: Settings, args: argparse.Namespace) -> str:
    if args.ring == "init-device":  # on an object node: its ring is copied, never made here
        name = _device_name(args.device)
        init_device(layout.Layout.of(settings).devices / name)
        return f"device {name} is in service on this node"
    where = layout.ensure(settings)
    builder = RingBuilder.load(where.builder)
    action = args.ring
    if action == "show":
        return show(builder)
    if action == "add":
        dev = builder.add_device(
            region=args.region,
            zone=args.zone,
            weight=args.weight,
            device=_device_name(args.device),
            host=args.host,
        )
        if args.host in ("local", settings.object_store.server_url):
            init_device(where.devices / args.device)
        builder.save(where.builder)
        return f"added device {dev.id} ({args.device}); rebalance to use it"
    if action == "set-weight":
        builder.set_weight(args.id, args.weight)
        builder.save(where.builder)
        return f"device {args.id} weight {args.weight:g}; rebalance to apply"
    if action == "remove":
        builder.remove_device(args.id)
        builder.save(where.builder)
        return f"removed device {args.id}; rebalance to move its partitions"
    if action == "rebalance":
        moved = builder.rebalance(seed=args.seed)
        builder.save(where.builder)
        builder.write_ring(where.ring)
        return f"moved {moved} partition replicas; balance {builder.balance():.2f}%"
    raise errors.BadRequest(f"unknown ring command {action}")


def add_parser(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
) -> argparse.ArgumentParser:
    """The `ring` command and its actions; `common` adds the options every command takes."""
    ring: argparse.ArgumentParser = sub.add_parser("ring", help="the object store's ring builder")
    actions = ring.add_subparsers(dest="ring", required=True)
    common(actions.add_parser("show", help="devices, their partitions and the balance"))
    add = actions.add_parser("add", help="add a device")
    add.add_argument("--region", type=int, default=1)
    add.add_argument("--zone", type=int, required=True)
    add.add_argument("--weight", type=float, default=100.0)
    add.add_argument("--device", required=True, help="directory name under the devices root")
    add.add_argument("--host", default="local", help='"local" or an object server URL')
    common(add)
    weight = actions.add_parser("set-weight", help="change a device's weight")
    weight.add_argument("id", type=int)
    weight.add_argument("weight", type=float)
    common(weight)
    remove = actions.add_parser("remove", help="take a device out")
    remove.add_argument("id", type=int)
    common(remove)
    init = actions.add_parser("init-device", help="put a device directory of this node in service")
    init.add_argument("--device", required=True, help="directory name under the devices root")
    common(init)
    rebalance = actions.add_parser("rebalance", help="reassign partitions, write the ring")
    rebalance.add_argument("--seed", type=int)
    common(rebalance)
    return ring
