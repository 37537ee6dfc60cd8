"""What a running cloud advertises, asked the way a client would (openstacksdk, admin token):
its catalog, microversions, image formats and import methods, compute hosts and flavors, and
which optional identity APIs answer. `run.py` calls `facts`; `tempest_conf.py` reads them.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openstack.connection

# The catalog types Tempest knows, and the `tempest.api` package testing each.
TEMPEST_PACKAGES = {
    "identity": "identity",
    "image": "image",
    "compute": "compute",
    "network": "network",
    "block-storage": "volume",
    "volumev3": "volume",
    "object-store": "object_storage",
}

# Identity APIs Keystone may or may not serve: (feature, path probed with an admin token).
IDENTITY_PROBES = {
    "trust": "/v3/OS-TRUST/trusts",
    "access_rules": "/v3/users/{user_id}/access_rules",
    "domain_specific_drivers": "/v3/domains/config/default",
}


@dataclass
class Facts:
    auth_url: str
    region: str
    admin: dict[str, str]
    catalog: dict[str, str]  # type -> public URL
    compute_versions: tuple[str, str] = ("2.1", "2.1")
    compute_hosts: int = 0
    hypervisor_type: str = ""
    compute_extensions: list[str] = field(default_factory=list)
    flavors: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    disk_formats: list[str] = field(default_factory=list)
    container_formats: list[str] = field(default_factory=list)
    import_methods: list[str] = field(default_factory=list)
    identity_features: dict[str, bool] = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=dict)  # "shared"/"external" -> name
    network_extensions: list[str] = field(default_factory=list)
    volume_versions: tuple[str, str] = ("3.0", "3.0")
    # What the first back-end pool reports (Tempest makes types that ask for these).
    volume_backend: dict[str, str] = field(default_factory=dict)
    object_store: dict[str, Any] = field(default_factory=dict)  # its `GET /info`


def _json(conn: openstack.connection.Connection, service: str, path: str, **kw: Any) -> Any:
    response = getattr(conn, service).get(path, raise_exc=False, **kw)
    return response.json() if response.status_code == 200 else None


def _catalog(conn: openstack.connection.Connection) -> dict[str, str]:
    out = {}
    for entry in conn.service_catalog:
        for ep in entry.get("endpoints", []):
            if ep.get("interface") == "public":
                out[entry["type"]] = ep["url"]
    return out


def _compute(conn: openstack.connection.Connection, facts: Facts) -> None:
    found = _json(conn, "compute", "/")
    version = (found or {}).get("version") or {}
    facts.compute_versions = (version.get("min_version") or "2.1", version.get("version") or "2.1")
    hypervisors = list(conn.compute.hypervisors(details=True))
    facts.compute_hosts = len(hypervisors)
    facts.hypervisor_type = hypervisors[0].hypervisor_type if hypervisors else ""
    extensions = _json(conn, "compute", "/extensions") or {}
    facts.compute_extensions = [e["alias"] for e in extensions.get("extensions", [])]
    flavors = sorted(conn.compute.flavors(), key=lambda f: (f.ram, f.vcpus, f.disk))
    facts.flavors = [f.id for f in flavors[:2]]


def _image(conn: openstack.connection.Connection, facts: Facts) -> None:
    schema = _json(conn, "image", "/schemas/image") or {}
    props = schema.get("properties", {})
    facts.disk_formats = [f for f in props.get("disk_format", {}).get("enum", []) if f]
    facts.container_formats = [f for f in props.get("container_format", {}).get("enum", []) if f]
    methods = _json(conn, "image", "/info/import") or {}
    facts.import_methods = methods.get("import-methods", {}).get("value", [])


def _identity(conn: openstack.connection.Connection, facts: Facts) -> None:
    user_id = conn.current_user_id
    for feature, path in IDENTITY_PROBES.items():
        response = conn.identity.get(path.format(user_id=user_id), raise_exc=False)
        facts.identity_features[feature] = response.status_code < 400


def _volume(conn: openstack.connection.Connection, facts: Facts) -> None:
    data = conn.block_storage.get_endpoint_data()
    low, high = data.min_microversion, data.max_microversion
    if low and high:
        facts.volume_versions = (f"{low[0]}.{low[1]}", f"{high[0]}.{high[1]}")
    for pool in conn.block_storage.backend_pools():
        caps = pool.capabilities or {}
        facts.volume_backend = {
            k: str(caps[k]) for k in ("vendor_name", "storage_protocol") if caps.get(k)
        }
        break


def _object_store(conn: openstack.connection.Connection, facts: Facts) -> None:
    """What Swift's `/info` (beside `/v1/`, public) says the store implements."""
    root = facts.catalog["object-store"].split("/v1/")[0]
    response = conn.session.get(f"{root}/info", authenticated=False, raise_exc=False)
    facts.object_store = response.json() if response.status_code == 200 else {}


def _networks(conn: openstack.connection.Connection, facts: Facts) -> None:
    for net in conn.network.networks():
        if net.is_router_external and "external" not in facts.networks:
            facts.networks["external"] = net.id
        elif net.is_shared and "shared" not in facts.networks:
            facts.networks["shared"] = net.name
    facts.network_extensions = [e.alias for e in conn.network.extensions()]


def tiny_qcow2() -> bytes:
    """A small valid qcow2 disk (made by qemu-img), enough for a fake hypervisor to boot."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "disk.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
        return path.read_bytes()


def ensure_images(
    conn: openstack.connection.Connection, facts: Facts, disk: bytes | None = None
) -> None:
    """Two public images, as Tempest's `image_ref` and `image_ref_alt`: the qcow2 `disk`
    (a bootable one for a real hypervisor), or a blank one."""
    data = disk or tiny_qcow2()
    for name in ("conformance-image", "conformance-image-alt"):
        found = conn.image.find_image(name)
        if found is None:
            found = conn.image.create_image(
                name=name,
                data=io.BytesIO(data),
                disk_format="qcow2",
                container_format="bare",
                visibility="public",
                allow_duplicates=True,
            )
        facts.images.append(found.id)


def facts(
    conn: openstack.connection.Connection,
    auth: dict[str, str],
    region: str,
    disk: bytes | None = None,
) -> Facts:
    found = Facts(auth_url=auth["auth_url"], region=region, admin=auth, catalog=_catalog(conn))
    _identity(conn, found)
    if "compute" in found.catalog:
        _compute(conn, found)
    if "image" in found.catalog:
        _image(conn, found)
        ensure_images(conn, found, disk)
    if "network" in found.catalog:
        _networks(conn, found)
    if "block-storage" in found.catalog or "volumev3" in found.catalog:
        _volume(conn, found)
    if "object-store" in found.catalog:
        _object_store(conn, found)
    return found
