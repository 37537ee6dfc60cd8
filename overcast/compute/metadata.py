"""Instance metadata as OpenStack serves it to guests: the OpenStack tree (`meta_data.json`,
`user_data`, `network_data.json`, `vendor_data.json`) and the EC2-style tree (`meta-data`,
`user-data`), from the plain instance record the conductor hands out.

One source for both ways a guest reads it: the agent packs `files()` into the config drive,
and `compute.api.metadata` serves the same documents over HTTP. Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

OPENSTACK_VERSIONS = ("2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30",
                      "2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14", "latest")  # fmt: skip
EC2_VERSIONS = ("2009-04-04", "latest")


def user_data(instance: dict[str, Any]) -> bytes | None:
    """The user data as the guest gets it (the API takes it base64-encoded)."""
    raw = instance.get("user_data")
    if not raw:
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return str(raw).encode()


def _keys(instance: dict[str, Any]) -> list[dict[str, str]]:
    if not instance.get("key_data"):
        return []
    return [{"name": instance.get("key_name") or "key", "type": "ssh",
             "data": str(instance["key_data"])}]  # fmt: skip


def meta_data(instance: dict[str, Any]) -> dict[str, Any]:
    """`openstack/<version>/meta_data.json`."""
    keys = _keys(instance)
    return {
        "uuid": instance["uuid"],
        "name": instance.get("display_name") or instance.get("name"),
        "hostname": instance.get("hostname") or instance.get("display_name"),
        "launch_index": int(instance.get("launch_index") or 0),
        "availability_zone": instance.get("availability_zone") or "nova",
        "project_id": instance.get("project_id"),
        "meta": dict(instance.get("metadata") or {}),
        "public_keys": {k["name"]: k["data"] for k in keys},
        "keys": keys,
        "devices": [],
    }


def network_data(instance: dict[str, Any]) -> dict[str, Any]:
    """`openstack/<version>/network_data.json`: links (the ports), networks, DNS services."""
    links, networks = [], []
    for index, vif in enumerate(instance.get("network_info") or []):
        link_id = f"tap{str(vif.get('port_id', index))[:11]}"
        links.append({"id": link_id, "type": "phy", "ethernet_mac_address": vif.get("mac"),
                      "mtu": vif.get("mtu") or 1500, "vif_id": vif.get("port_id")})  # fmt: skip
        for n, ip in enumerate(vif.get("fixed_ips") or []):
            v6 = ":" in str(ip.get("ip_address", ""))
            networks.append({"id": f"network{index}-{n}", "link": link_id,
                             "type": "ipv6_dhcp" if v6 else "ipv4_dhcp",
                             "network_id": vif.get("network_id")})  # fmt: skip
    return {"links": links, "networks": networks, "services": []}


def ec2_meta_data(instance: dict[str, Any]) -> dict[str, Any]:
    """`ec2/<version>/meta-data.json` (and the `/latest/meta-data/` tree over HTTP)."""
    ips = [ip.get("ip_address") for vif in instance.get("network_info") or []
           for ip in vif.get("fixed_ips") or []]  # fmt: skip
    v4 = [ip for ip in ips if ip and ":" not in ip]
    meta: dict[str, Any] = {
        "ami-id": instance.get("image_ref") or "",
        "ami-launch-index": int(instance.get("launch_index") or 0),
        "hostname": instance.get("hostname") or "",
        "instance-id": instance.get("name") or instance["uuid"],
        "instance-type": (instance.get("flavor") or {}).get("name", ""),
        "local-hostname": instance.get("hostname") or "",
        "local-ipv4": v4[0] if v4 else "",
        "placement": {"availability-zone": instance.get("availability_zone") or "nova"},
        "reservation-id": instance.get("reservation_id") or "",
        "security-groups": [
            g.get("name", g) if isinstance(g, dict) else g
            for g in instance.get("security_groups") or []
        ],  # fmt: skip
    }
    keys = _keys(instance)
    if keys:
        meta["public-keys"] = {"0": {"openssh-key": keys[0]["data"], "_name": keys[0]["name"]}}
    return meta


def files(instance: dict[str, Any]) -> dict[str, bytes]:
    """Every file of the config drive, by path."""
    out: dict[str, bytes] = {}
    data = user_data(instance)
    docs = {
        "meta_data.json": meta_data(instance),
        "network_data.json": network_data(instance),
        "vendor_data.json": {},
        "vendor_data2.json": {},
    }
    for version in OPENSTACK_VERSIONS:
        for name, doc in docs.items():
            out[f"openstack/{version}/{name}"] = json.dumps(doc).encode()
        if data is not None:
            out[f"openstack/{version}/user_data"] = data
    for version in EC2_VERSIONS:
        out[f"ec2/{version}/meta-data.json"] = json.dumps(ec2_meta_data(instance)).encode()
        if data is not None:
            out[f"ec2/{version}/user-data"] = data
    return out
