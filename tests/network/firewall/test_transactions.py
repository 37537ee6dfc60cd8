"""The incremental transactions: after any sequence of changes (ports come, change and go,
rules and members change, address pairs overlap), the tables hold exactly what replacing them
whole would, and the host's ruleset is never touched."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from typing import Any

import pytest

from overcast.network.drivers import HostState, Port
from overcast.network.drivers.linuxbridge import fwtable
from overcast.network.drivers.linuxbridge.firewall import Firewall
from tests.network.firewall.conftest import EGRESS_ALL, Lab, group, rule, sh


def contents(namespace: str) -> dict[str, Any]:
    """Both tables as data: each chain's rules in order, each set's and map's elements."""
    out: dict[str, Any] = {}
    for family in ("bridge", "inet"):
        listing = sh(
            "ip", "netns", "exec", namespace, "nft", "-j", "list", "table", family, "overcast"
        )
        for item in json.loads(listing)["nftables"]:
            for kind in ("chain", "set", "map"):
                if kind in item:
                    body = item[kind]
                    out[f"{kind} {family} {body['name']}"] = sorted(
                        json.dumps(e) for e in body.get("elem", [])
                    )
            if "rule" in item:
                key = f"chain {family} {item['rule']['chain']} rules"
                out.setdefault(key, []).append(json.dumps(item["rule"]["expr"]))
    return out


def port(net: str, n: int, groups: tuple[str, ...], **changes: Any) -> Port:
    values: dict[str, Any] = dict(
        id=str(uuid.uuid4()),
        network_id=net,
        mac_address=f"fa:16:3e:00:00:{n:02x}",
        fixed_ips=(("s", f"10.5.0.{n}"), ("s6", f"fd05::{n}")),
        admin_state_up=True,
        device_owner="compute:nova",
        device_id="vm",
        vif_type="bridge",
        security_groups=groups,
    )
    values.update(changes)
    return Port(**values)


async def test_changes_leave_what_a_whole_replacement_would(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "overcast.network.drivers.linuxbridge.firewall")
    twin = Lab()
    try:
        net, other = str(uuid.uuid4()), str(uuid.uuid4())
        web = group(rule(protocol="tcp", low=80, high=80), *EGRESS_ALL)
        peers = group(*EGRESS_ALL, members=())
        ssh = group(
            rule(protocol="tcp", low=22, high=22, remote=peers.id), rule(protocol="icmp", low=8)
        )
        a = port(net, 2, (web.id,))
        b = port(net, 3, (web.id, ssh.id))
        c = port(other, 4, (peers.id,))
        steps = [
            ([a], [web]),
            ([a, b, c], [web, ssh, dataclasses.replace(peers, member_ips=("10.5.0.4", "fd05::4"))]),
            ([dataclasses.replace(a, allowed_address_pairs=(("10.5.0.0/24", a.mac_address), ("10.5.0.9", "fa:16:3e:00:00:99"), ("fd05::/64", a.mac_address))), b, c],
             [dataclasses.replace(web, rules=(rule(protocol="udp", low=53, high=54), *EGRESS_ALL)), ssh, peers]),
            ([dataclasses.replace(b, security_groups=(ssh.id,)), dataclasses.replace(c, port_security=False)], [web, ssh, peers]),
            ([b], [ssh]),
            ([], []),
        ]  # fmt: skip
        for ports, groups in steps:
            desired = HostState(host="t", ports=tuple(ports), security_groups=tuple(groups))
            await lab.firewall.apply(desired)
            fresh = Firewall(twin.dp)
            fresh._zones = dict(lab.firewall._zones)  # the same zones, as a restart keeps
            await fresh.apply(desired)
            assert contents(lab.dp) == contents(twin.dp)
            assert fwtable.changes(lab.firewall.applied, fresh.applied) == ""  # type: ignore[arg-type]
            assert "firewall changes failed" not in caplog.text  # each went in as changes
    finally:
        twin.close()
