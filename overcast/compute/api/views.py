"""How servers and flavors look in the API, microversion by microversion.

The view of a server changes at 2.3 (extended attributes), 2.9 (locked), 2.16 (host_status),
2.19 (description), 2.26 (tags), 2.47 (embedded flavor), 2.63 (trusted certificates),
2.71 (server_groups), 2.73 (locked_reason), 2.75 (swap 0 in flavors), 2.90 (hostname for
all) and 2.96 (pinned_availability_zone).
"""

from __future__ import annotations

import hashlib
from typing import Any

from overcast.compute import records, states
from overcast.compute.api.deps import Req
from overcast.compute.models.flavors import Flavor
from overcast.compute.models.instances import Instance

_PROGRESS = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")


def stamp(value: Any) -> str | None:
    """`created`/`updated` as Nova writes them: second precision with a Z."""
    if value is None:
        return None
    text: str = value.replace(tzinfo=None).isoformat(timespec="seconds")
    return text + "Z"  # stored in UTC


def links(r: Req, kind: str, ident: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": r.url(f"/{kind}/{ident}")},
        {"rel": "bookmark", "href": r.bookmark(f"/{kind}/{ident}")},
    ]


def host_id(project_id: str, host: str | None) -> str:
    """Nova's hostId: opaque per project, the same for servers on one host."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


_VERSIONS = ("2.3", "2.9", "2.16", "2.19", "2.26", "2.47", "2.63", "2.71", "2.73", "2.90", "2.96")


class ServerView:
    """Renders instances for one request; computes per-request facts once."""

    def __init__(
        self,
        r: Req,
        host_status: dict[str, str] | None = None,
        groups: dict[str, list[str]] | None = None,
    ) -> None:
        self.r = r
        self.admin_attrs = r.allowed("os_compute_api:os-extended-server-attributes")
        self.extra_specs = r.allowed("os_compute_api:os-flavor-extra-specs:index")
        self.host_status = host_status
        self.groups = groups
        self.v = {version: r.at_least(version) for version in _VERSIONS}
        self.self_base = r.url("/servers/")
        self.bookmark_base = r.bookmark("/servers/")
        self.image_bookmark = r.bookmark("/images/")
        self.flavor_bookmark = r.bookmark("/flavors/")

    def links(self, uuid: str) -> list[dict[str, str]]:
        return [
            {"rel": "self", "href": self.self_base + uuid},
            {"rel": "bookmark", "href": self.bookmark_base + uuid},
        ]

    def basic(self, inst: Instance) -> dict[str, Any]:
        return {
            "id": inst.uuid,
            "name": inst.display_name,
            "links": self.links(inst.uuid),
        }

    def flavor(self, flavor: dict[str, Any]) -> dict[str, Any]:
        if not self.v["2.47"]:
            fid = flavor.get("id")
            return {
                "id": fid,
                "links": [{"rel": "bookmark", "href": f"{self.flavor_bookmark}{fid}"}],
            }
        out = {
            "vcpus": flavor.get("vcpus"),
            "ram": flavor.get("memory_mb"),
            "disk": flavor.get("root_gb"),
            "ephemeral": flavor.get("ephemeral_gb"),
            "swap": flavor.get("swap"),
            "original_name": flavor.get("name"),
        }
        if self.extra_specs:
            out["extra_specs"] = dict(flavor.get("extra_specs") or {})
        return out

    def detail(self, inst: Instance, *, show: bool = False) -> dict[str, Any]:
        r = self.r
        status = states.status(inst.vm_state, inst.task_state)
        image: Any = ""
        if inst.image_ref:
            image = {
                "id": inst.image_ref,
                "links": [{"rel": "bookmark", "href": self.image_bookmark + inst.image_ref}],
            }
        sysmeta = inst.system_metadata or {}
        out: dict[str, Any] = {
            "id": inst.uuid,
            "name": inst.display_name,
            "status": status,
            "tenant_id": inst.project_id,
            "user_id": inst.user_id,
            "metadata": dict(inst.metadata_ or {}),
            "hostId": host_id(inst.project_id, inst.host),
            "image": image,
            "flavor": self.flavor(inst.flavor or {}),
            "created": stamp(inst.created_at),
            "updated": stamp(inst.updated_at),
            "addresses": dict(inst.addresses or {}),
            "accessIPv4": inst.access_ip_v4 or "",
            "accessIPv6": inst.access_ip_v6 or "",
            "links": self.links(inst.uuid),
            "OS-DCF:diskConfig": sysmeta.get("disk_config", "MANUAL"),
            "OS-EXT-AZ:availability_zone": inst.availability_zone or "",
            "config_drive": "True" if inst.config_drive in ("True", "true", "1") else "",
            "key_name": inst.key_name,
            "OS-SRV-USG:launched_at": records.iso(inst.launched_at),
            "OS-SRV-USG:terminated_at": records.iso(inst.terminated_at),
            "OS-EXT-STS:task_state": inst.task_state,
            "OS-EXT-STS:vm_state": inst.vm_state,
            "OS-EXT-STS:power_state": inst.power_state,
            "os-extended-volumes:volumes_attached": [
                {
                    "id": a["volume_id"],
                    **(
                        {"delete_on_termination": bool(a.get("delete_on_termination"))}
                        if self.v["2.3"]
                        else {}
                    ),
                }
                for a in (inst.attachments or [])
            ],
        }
        if inst.security_groups:  # Nova leaves the key out when there are none
            out["security_groups"] = [{"name": g} for g in inst.security_groups]
        if status in _PROGRESS:
            out["progress"] = inst.progress or 0
        if self.admin_attrs:
            out["OS-EXT-SRV-ATTR:host"] = inst.host
            out["OS-EXT-SRV-ATTR:instance_name"] = inst.name
            out["OS-EXT-SRV-ATTR:hypervisor_hostname"] = inst.node
            if self.v["2.3"]:
                out.update(
                    {
                        "OS-EXT-SRV-ATTR:reservation_id": inst.reservation_id,
                        "OS-EXT-SRV-ATTR:launch_index": inst.launch_index,
                        "OS-EXT-SRV-ATTR:kernel_id": "",
                        "OS-EXT-SRV-ATTR:ramdisk_id": "",
                        "OS-EXT-SRV-ATTR:hostname": inst.hostname,
                        "OS-EXT-SRV-ATTR:root_device_name": inst.root_device_name,
                        "OS-EXT-SRV-ATTR:user_data": inst.user_data,
                    }
                )
        if self.v["2.90"]:
            out["OS-EXT-SRV-ATTR:hostname"] = inst.hostname
        if self.v["2.9"]:
            out["locked"] = bool(inst.locked)
        if self.v["2.73"]:
            out["locked_reason"] = inst.locked_reason
        if self.v["2.16"] and self.host_status is not None:
            out["host_status"] = self.host_status.get(inst.host or "", "") if inst.host else ""
        if self.v["2.19"]:
            out["description"] = inst.display_description
        if self.v["2.26"]:
            out["tags"] = inst.tag_list
        if self.v["2.63"]:
            out["trusted_image_certificates"] = inst.trusted_certs
        if self.v["2.71"] and show:
            out["server_groups"] = (self.groups or {}).get(inst.uuid, [])
        if self.v["2.96"]:
            out["pinned_availability_zone"] = inst.pinned_availability_zone
        if inst.fault and status in ("ERROR", "DELETED"):
            fault = {k: inst.fault.get(k) for k in ("code", "created", "message")}
            if r.ctx.is_admin or int(inst.fault.get("code") or 500) != 500:
                fault["details"] = inst.fault.get("details", "")
            out["fault"] = fault
        return out


def flavor(r: Req, f: Flavor, *, detail: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f.flavorid,
        "name": f.name,
        "links": links(r, "flavors", f.flavorid),
    }
    if r.at_least("2.55"):
        out["description"] = f.description
    if not detail:
        return out
    swap: Any = f.swap if (f.swap or r.at_least("2.75")) else ""
    out.update(
        {
            "ram": f.memory_mb,
            "disk": f.root_gb,
            "vcpus": f.vcpus,
            "swap": swap,
            "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
            "OS-FLV-DISABLED:disabled": f.disabled,
            "rxtx_factor": f.rxtx_factor,
            "os-flavor-access:is_public": f.is_public,
        }
    )
    if r.at_least("2.61") and r.allowed("os_compute_api:os-flavor-extra-specs:index"):
        out["extra_specs"] = f.extra_specs
    return out
