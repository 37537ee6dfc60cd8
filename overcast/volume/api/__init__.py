"""Block storage's HTTP routes (Cinder v3), one module per resource; `routers()` gathers them
(version discovery first, the catch-all metadata routes last)."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

MODULES = (
    "versions",
    "volumes",
    "trace",
    "volume_actions",
    "types",
    "encryption",
    "qos",
    "snapshots",
    "backups",
    "attachments",
    "transfers",
    "group_types",
    "groups",
    "group_snapshots",
    "quotas",
    "hosts",
    "os_hosts",
    "messages",
    "manage",
    "metadata",
)


def routers() -> list[APIRouter]:
    return [importlib.import_module(f"{__name__}.{name}").router for name in MODULES]
