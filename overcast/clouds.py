"""The files that tell clients where the cloud is: DIR/clouds.yaml and DIR/openrc."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from overcast.common.config import Settings
from overcast.common.files import atomic_write

CLOUDS = (("overcast", "admin", "admin"), ("overcast-demo", "demo", "demo"))


def _cloud(settings: Settings, user: str, project: str) -> dict[str, Any]:
    password = (settings.data_dir / f"{user}-password").read_text().strip()
    return {
        "auth": {
            "auth_url": settings.base_url + "/v3",
            "username": user,
            "password": password,
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "region_name": settings.region,
        "interface": "public",
        "identity_api_version": 3,
    }


def write(settings: Settings, user_config: bool = False) -> Path:
    """Write clouds.yaml and openrc into the data dir (and, if asked, the user's clouds.yaml)."""
    clouds = {name: _cloud(settings, user, project) for name, user, project in CLOUDS}
    path = settings.data_dir / "clouds.yaml"
    atomic_write(path, yaml.safe_dump({"clouds": clouds}, sort_keys=False).encode(), 0o600)
    admin = clouds["overcast"]["auth"]
    openrc = "".join(
        f"export {k}={v}\n"
        for k, v in (
            ("OS_AUTH_URL", admin["auth_url"]),
            ("OS_USERNAME", admin["username"]),
            ("OS_PASSWORD", admin["password"]),
            ("OS_PROJECT_NAME", admin["project_name"]),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_PROJECT_DOMAIN_NAME", "Default"),
            ("OS_REGION_NAME", settings.region),
            ("OS_IDENTITY_API_VERSION", "3"),
        )
    )
    atomic_write(settings.data_dir / "openrc", openrc.encode(), 0o600)
    if user_config:
        _merge_user_config(clouds)
    return path


def _merge_user_config(clouds: dict[str, Any]) -> None:
    """Add our clouds to ~/.config/openstack/clouds.yaml, keeping every other cloud there."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    path = base / "openstack" / "clouds.yaml"
    existing: dict[str, Any] = {}
    if path.exists():
        existing = yaml.safe_load(path.read_text()) or {}
    existing.setdefault("clouds", {}).update(clouds)
    atomic_write(path, yaml.safe_dump(existing, sort_keys=False).encode(), 0o600)
