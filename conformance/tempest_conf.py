"""`tempest.conf` written from what the cloud advertises (`discover.Facts`), never from what we
hope it has: services from the catalog, microversions from version discovery, image formats
from the image schema, migrations only with two compute hosts. `run.py` calls `render`.
"""

from __future__ import annotations

import configparser
import io
from pathlib import Path

from conformance.discover import Facts

# What every compute driver does through the API (the agent refuses what its driver lacks).
COMPUTE_ALWAYS = (
    "resize",
    "pause",
    "suspend",
    "shelve",
    "rescue",
    "snapshot",
    "console_output",
    "disk_config",
    "enable_instance_password",
)
# SPICE and serial consoles over Nova's serial proxy protocol are not served; noVNC consoles
# are, where there is a real guest behind them (`REAL_HYPERVISORS`).
COMPUTE_NEVER = (
    "spice_console",
    "serial_console",
    "change_password",
    "personality",
    "swap_volume",  # Tempest swaps volumes nobody migrates: current Nova (and we) answer 409
    "volume_multiattach",
    "attach_encrypted_volume",
)


# The fake driver's consoles lead nowhere (as Nova's fake driver's): Tempest's noVNC test
# needs a VNC server behind the proxy.
REAL_HYPERVISORS = ("QEMU", "KVM")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def render(facts: Facts, log_dir: Path, http_image: str = "") -> str:
    """The configuration; `http_image`: a URL of a qcow2 disk the cloud may fetch."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str  # type: ignore[assignment,method-assign]
    admin = facts.admin
    has = facts.catalog.__contains__
    conf["DEFAULT"] = {"log_dir": str(log_dir), "log_file": "tempest.log", "debug": "true"}
    conf["auth"] = {
        "use_dynamic_credentials": "true",
        "create_isolated_networks": _bool(has("network")),
        "admin_username": admin["username"],
        "admin_password": admin["password"],
        "admin_project_name": admin["project_name"],
        "admin_domain_name": "Default",
        "default_credentials_domain_name": "Default",
        "tempest_roles": "member",
    }
    conf["identity"] = {
        "uri_v3": facts.auth_url,
        "auth_version": "v3",
        "region": facts.region,
        "v3_endpoint_type": "public",
        "admin_role": "admin",
        "default_domain_id": "default",
    }
    features = facts.identity_features
    conf["identity-feature-enabled"] = {
        "api_v2": "false",
        "api_v3": "true",
        "trust": _bool(features.get("trust", False)),
        "access_rules": _bool(features.get("access_rules", False)),
        "domain_specific_drivers": _bool(features.get("domain_specific_drivers", False)),
        "security_compliance": "false",
        "project_tags": "true",
        "application_credentials": "true",
    }
    conf["service_available"] = {
        "nova": _bool(has("compute")),
        "glance": _bool(has("image")),
        "neutron": _bool(has("network")),
        "cinder": _bool(has("block-storage") or has("volumev3")),
        "swift": _bool(has("object-store")),
        "horizon": "false",
    }
    conf["validation"] = {"run_validation": "false"}
    if has("compute"):
        _compute(conf, facts)
    if has("image"):
        _image(conf, facts, http_image)
    if has("network"):
        _network(conf, facts)
    if has("block-storage") or has("volumev3"):
        _volume(conf, facts)
    if has("object-store"):
        _object_storage(conf, facts)
    out = io.StringIO()
    conf.write(out)
    return out.getvalue()


def _compute(conf: configparser.ConfigParser, facts: Facts) -> None:
    low, high = facts.compute_versions
    images = facts.images + facts.images[:1]
    flavors = facts.flavors + facts.flavors[:1]
    conf["compute"] = {
        "region": facts.region,
        "image_ref": images[0],
        "image_ref_alt": images[1],
        "flavor_ref": flavors[0],
        "flavor_ref_alt": flavors[1],
        "min_microversion": low,
        "max_microversion": high,
        "min_compute_nodes": str(facts.compute_hosts),
        "build_timeout": "60",
        **({"hypervisor_type": facts.hypervisor_type} if facts.hypervisor_type else {}),
        **({"fixed_network_name": facts.networks["shared"]} if "shared" in facts.networks else {}),
    }
    several = facts.compute_hosts >= 2
    enabled = {name: "true" for name in COMPUTE_ALWAYS}
    enabled.update({name: "false" for name in COMPUTE_NEVER})
    enabled.update(
        {
            "cold_migration": _bool(several),
            "live_migration": _bool(several),
            "block_migration_for_live_migration": _bool(several),
            "interface_attach": _bool("network" in facts.catalog),
            "metadata_service": _bool("network" in facts.catalog),
            "config_drive": "true",
            "vnc_console": _bool(facts.hypervisor_type in REAL_HYPERVISORS),
            "api_extensions": ",".join(facts.compute_extensions) or "all",
        }
    )
    conf["compute-feature-enabled"] = enabled


def _image(conf: configparser.ConfigParser, facts: Facts, http_image: str) -> None:
    conf["image"] = {
        "region": facts.region,
        "container_formats": ",".join(facts.container_formats),
        "disk_formats": ",".join(facts.disk_formats),
        "build_timeout": "60",
        **({"http_image": http_image, "http_qcow2_image": http_image} if http_image else {}),
    }
    conf["image-feature-enabled"] = {
        "api_v2": "true",
        "import_image": _bool("glance-direct" in facts.import_methods),
        "os_glance_reserved": "true",
        "manage_locations": "false",
        "do_secure_hash": "true",
    }


def _network(conf: configparser.ConfigParser, facts: Facts) -> None:
    conf["network"] = {
        "region": facts.region,
        **(
            {"public_network_id": facts.networks["external"]}
            if "external" in facts.networks
            else {}
        ),
    }
    # Exactly what /v2.0/extensions lists: Tempest tries (and expects) every extension named.
    conf["network-feature-enabled"] = {"api_extensions": ",".join(facts.network_extensions)}


def _volume(conf: configparser.ConfigParser, facts: Facts) -> None:
    low, high = facts.volume_versions
    conf["volume"] = {
        "region": facts.region,
        "catalog_type": "block-storage" if "block-storage" in facts.catalog else "volumev3",
        "min_microversion": low,
        "max_microversion": high,
        "build_timeout": "60",
        "backup_driver": "posix",  # Cinder's name for backups kept as files
        **facts.volume_backend,
    }
    conf["volume-feature-enabled"] = {
        "backup": "true",
        "snapshot": "true",
        "clone": "true",
        "manage_volume": "false",
        "manage_snapshot": "false",
        "extend_attached_volume": "false",
    }


def _object_storage(conf: configparser.ConfigParser, facts: Facts) -> None:
    """The middleware Tempest tests are those `/info` lists (Tempest does not ask it); container
    sync needs a realm with a cluster, named as `/info` names them."""
    info = facts.object_store
    realms = info.get("container_sync", {}).get("realms", {})
    realm = next(iter(realms), "")
    cluster = next(iter(realms[realm].get("clusters", {})), "") if realm else ""
    apis = [name for name in info if name != "swift" and (name != "container_sync" or cluster)]
    conf["object-storage"] = {
        "region": facts.region,
        "operator_role": "member",
        "reseller_admin_role": "ResellerAdmin",
        **({"realm_name": realm, "cluster_name": cluster} if cluster else {}),
    }
    conf["object-storage-feature-enabled"] = {
        "discoverable_apis": ",".join(sorted(apis)),
        "container_sync": _bool(bool(cluster)),
        "object_versioning": _bool("versioned_writes" in info),
        "discoverability": _bool(bool(info)),
    }
