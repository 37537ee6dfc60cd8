"""Room in a project's compute quota for the servers a benchmark keeps at once, on any
OpenStack cloud: raised to what the bench needs (and put back after) when it runs as an admin,
otherwise a clear refusal saying what to ask for, before anything is booted.
Used by bench/compute.py and bench/boot.py (run as scripts: this file sits beside them)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openstack


@contextmanager
def room_for(
    conn: openstack.connection.Connection, servers: int, flavor: Any
) -> Iterator[dict[str, Any]]:
    """Yields what was changed ({} when the quota already sufficed)."""
    project = conn.current_project_id
    have = sum(1 for _ in conn.compute.servers())
    quota = conn.compute.get_quota_set(project)
    total = have + servers
    need = {"instances": total, "cores": total * flavor.vcpus, "ram": total * flavor.ram}
    short = {k: v for k, v in need.items() if 0 <= int(getattr(quota, k)) < v}
    if not short:
        yield {}
        return
    was = {k: int(getattr(quota, k)) for k in short}
    try:
        conn.compute.update_quota_set(project, **short)
    except openstack.exceptions.ForbiddenException:
        wanted = " ".join(f"--{k} {v}" for k, v in short.items())
        raise SystemExit(
            f"the bench keeps up to {servers} {flavor.name} servers at once beside the {have} "
            f"there; the project's compute quota is too small: ask an admin for "
            f"`openstack quota set {wanted} {project}`, or ask the bench for fewer servers"
        ) from None
    try:
        yield {"raised": short, "was": was}
    finally:
        try:
            conn.compute.update_quota_set(project, **was)
        except openstack.exceptions.HttpException as exc:  # servers not yet gone: say so
            print(f"quota not restored to {was}: {exc}", file=sys.stderr)
