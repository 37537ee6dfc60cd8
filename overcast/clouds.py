"""The files that tell clients where the cloud is: DIR/clouds.yaml and DIR/openrc (and, with
`--user-clouds`, ~/.config/openstack/clouds.yaml).

Written on the first start and afterwards only where Overcast's own entries changed (a new
port, say): every other cloud, every key a user added to our clouds, and every other line of
openrc stay as they were, and an unchanged file is not rewritten. Called by `overcast.up`.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from overcast.common import log
from overcast.common.config import Settings
from overcast.common.files import atomic_write

LOG = log.get(__name__)

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


def ours(settings: Settings) -> dict[str, Any]:
    """Overcast's own entries, by cloud name."""
    return {name: _cloud(settings, user, project) for name, user, project in CLOUDS}


def write(settings: Settings, user_config: bool = False) -> Path:
    """Bring clouds.yaml and openrc in the data dir (and, if asked, the user's clouds.yaml) up
    to date with this cloud; returns the data dir's clouds.yaml."""
    clouds = ours(settings)
    path = settings.data_dir / "clouds.yaml"
    merge_clouds_yaml(path, clouds)
    admin = clouds["overcast"]["auth"]
    merge_openrc(
        settings.data_dir / "openrc",
        {
            "OS_AUTH_URL": admin["auth_url"],
            "OS_USERNAME": admin["username"],
            "OS_PASSWORD": admin["password"],
            "OS_PROJECT_NAME": admin["project_name"],
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": settings.region,
            "OS_IDENTITY_API_VERSION": "3",
        },
    )
    if user_config:
        merge_clouds_yaml(user_clouds_yaml(), clouds)
    return path


def user_clouds_yaml() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "openstack" / "clouds.yaml"


def merge_clouds_yaml(path: Path, clouds: dict[str, Any]) -> bool:
    """Put `clouds` into the clouds.yaml at `path`, keeping everything else; True if written.

    A file that is not a YAML mapping is someone else's: it is left alone, with a warning.
    """
    existing: Any = {}
    if path.exists():
        try:
            existing = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            LOG.warning("%s is not valid YAML (%s); left unchanged", path, exc)
            return False
    if not isinstance(existing, dict) or not isinstance(existing.get("clouds", {}), dict):
        LOG.warning("%s does not hold a `clouds` mapping; left unchanged", path)
        return False
    merged = dict(existing)
    merged["clouds"] = dict(existing.get("clouds") or {})
    for name, entry in clouds.items():
        merged["clouds"][name] = _overlay(merged["clouds"].get(name), entry)
    if merged == existing:
        return False
    atomic_write(path, yaml.safe_dump(merged, sort_keys=False).encode(), 0o600)
    return True


def _overlay(base: Any, top: dict[str, Any]) -> dict[str, Any]:
    """`top` over `base`, keeping the keys only `base` has (at every depth)."""
    out = dict(base) if isinstance(base, dict) else {}
    for key, value in top.items():
        out[key] = _overlay(out.get(key), value) if isinstance(value, dict) else value
    return out


_EXPORT = re.compile(r"^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=")


def merge_openrc(path: Path, variables: dict[str, str]) -> bool:
    """Set each of `variables` in the shell file at `path`, replacing its own `export` line
    and keeping every other line; True if the file was written."""
    lines = path.read_text().splitlines() if path.exists() else []
    wanted = {name: f"export {name}={shlex.quote(value)}" for name, value in variables.items()}
    out: list[str] = []
    for line in lines:
        match = _EXPORT.match(line)
        name = match.group(1) if match else None
        if name in wanted:
            out.append(wanted.pop(name))
        else:
            out.append(line)
    out.extend(wanted.values())
    if out == lines:
        return False
    atomic_write(path, "".join(line + "\n" for line in out).encode(), 0o600)
    return True
