"""Compute's HTTP routes (Nova v2.1), one module per resource; `routers()` gathers them.

The modules of the resources around servers (key pairs, server groups, aggregates, zones,
quotas, limits, usage, hypervisors, services) are included when present.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter

MINE = (
    "versions",
    "flavors",
    "servers",
    "server_actions",
    "server_metadata",
    "server_tags",
    "instance_actions",
    "trace",
    "ips",
    "external_events",
    "assisted_snapshots",
    "interfaces",
    "diagnostics",
    "metadata",
    "consoles",
    "console_proxy",
    "proxy_network",
    "proxy_volume",
    "proxy_tenant_networks",
    "server_password",
)
THEIRS = (
    "keypairs",
    "server_groups",
    "aggregates",
    "availability_zones",
    "quotas",
    "limits",
    "usage",
    "hypervisors",
    "services",
    "volume_attachments",
    "hosts",
    "extensions",
    "migrations",
    "images",
    "usage_audit",
)


def routers() -> list[APIRouter]:
    found = []
    for name in (*MINE, *THEIRS):
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        found.append(module.router)
    return found
