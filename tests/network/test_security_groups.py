"""Security groups: the project's default group with Neutron's default rules, rules by name
or number, ICMP type/code, remote groups and prefixes, and the 4xx Neutron gives for
duplicates and bad rules (nothing changed)."""

from __future__ import annotations

from typing import Any

import openstack.exceptions as osexc
import pytest

from tests.helpers.isolation import Tenant
from tests.helpers.server import Server
from tests.network import raw
from tests.network.conftest import cli_as, name


def _rules(group: Any) -> set[tuple[Any, ...]]:
    return {
        (
            r["direction"],
            r["ethertype"],
            r["protocol"],
            r["remote_group_id"] == group.id,
            r["remote_ip_prefix"],
        )
        for r in group.security_group_rules
    }


def test_default_group_on_first_use(server: Server, tenant: Tenant) -> None:
    groups = cli_as(server, tenant, "security", "group", "list")
    assert [g["Name"] for g in groups] == ["default"]
    (group,) = tenant.conn.network.security_groups(project_id=tenant.project_id)
    assert _rules(group) == {
        ("ingress", "IPv4", None, True, None),
        ("ingress", "IPv6", None, True, None),
        ("egress", "IPv4", None, False, None),
        ("egress", "IPv6", None, False, None),
    }
    rule = cli_as(
        server,
        tenant,
        "security",
        "group",
        "rule",
        "create",
        "--proto",
        "tcp",
        "--dst-port",
        "22",
        "default",
    )
    assert (rule["protocol"], rule["port_range_min"], rule["port_range_max"]) == ("tcp", 22, 22)
    again = server.cli(
        "--os-username",
        tenant.user_name,
        "--os-password",
        tenant.password,
        "--os-project-name",
        tenant.project_name,
        "--os-user-domain-name",
        "Default",
        "--os-project-domain-name",
        "Default",
        "security",
        "group",
        "rule",
        "create",
        "--proto",
        "tcp",
        "--dst-port",
        "22",
        "default",
        check=False,
    )
    assert again.returncode != 0 and "409" in again.stderr
    raw.assert_error(
        raw.call(tenant.conn, "DELETE", f"/v2.0/security-groups/{group.id}"),
        409,
        "SecurityGroupCannotRemoveDefault",
    )


@pytest.mark.parametrize(
    ("fields", "status", "kind"),
    [
        (
            {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
            409,
            "SecurityGroupRuleExists",
        ),
        (
            {"protocol": "6", "port_range_min": 22, "port_range_max": 22},
            409,
            "SecurityGroupRuleExists",
        ),
        (
            {"protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
            400,
            "SecurityGroupInvalidPortRange",
        ),
        (
            {"protocol": "tcp", "port_range_min": 0, "port_range_max": 80},
            400,
            "SecurityGroupInvalidPortValue",
        ),
        (
            {"protocol": "tcp", "port_range_min": -16, "port_range_max": 80},
            400,
            "SecurityGroupInvalidPortValue",
        ),
        (
            {"protocol": "udp", "port_range_min": 80, "port_range_max": 65536},
            400,
            "SecurityGroupInvalidPortValue",
        ),
        ({"protocol": "tcp", "port_range_max": 6}, 400, "SecurityGroupInvalidPortRange"),
        ({"protocol": "tcp", "port_range_min": 6}, 400, "SecurityGroupInvalidPortRange"),
        (
            {"protocol": "icmp", "port_range_min": -1, "port_range_max": 25},
            400,
            "SecurityGroupInvalidPortValue",
        ),
        (
            {"protocol": "icmp", "port_range_min": 1, "port_range_max": 256},
            400,
            "SecurityGroupInvalidIcmpValue",
        ),
        (
            {"port_range_min": 80, "port_range_max": 80},
            400,
            "SecurityGroupProtocolRequiredWithPorts",
        ),
        ({"protocol": "icmp", "port_range_max": 0}, 400, "SecurityGroupMissingIcmpType"),
        ({"protocol": "icmp", "port_range_min": 300}, 400, None),
        ({"protocol": "gopher"}, 400, "SecurityGroupRuleInvalidProtocol"),
        ({"protocol": "256"}, 400, "SecurityGroupRuleInvalidProtocol"),
        ({"remote_ip_prefix": "::/0"}, 400, "SecurityGroupRuleParameterConflict"),
        (
            {"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "SELF"},
            400,
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
        ),
        ({"direction": "sideways"}, 400, None),
        ({"remote_group_id": "4a4e4f3b-0000-4000-8000-000000000000"}, 404, "SecurityGroupNotFound"),
        ({"remote_group_id": "bad_group_id"}, 404, "SecurityGroupNotFound"),
    ],
)
def test_bad_rules(tenant: Tenant, fields: dict[str, Any], status: int, kind: str | None) -> None:
    conn = tenant.conn
    group = conn.network.create_security_group(name=name("sg"))
    conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
    )
    before = len(conn.network.get_security_group(group.id).security_group_rules)
    body = {"security_group_id": group.id, "direction": "ingress", **fields}
    if body.get("remote_group_id") == "SELF":
        body["remote_group_id"] = group.id
    raw.assert_error(
        raw.call(conn, "POST", "/v2.0/security-group-rules", json={"security_group_rule": body}),
        status,
        kind,
    )
    assert len(conn.network.get_security_group(group.id).security_group_rules) == before


def test_no_second_default_by_rename(tenant: Tenant) -> None:
    conn = tenant.conn
    group = conn.network.create_security_group(name=name("sg"))
    before = group.name
    with pytest.raises(osexc.ConflictException):
        conn.network.update_security_group(group, name="default")
    raw.assert_error(
        raw.call(
            conn,
            "PUT",
            f"/v2.0/security-groups/{group.id}",
            json={"security_group": {"name": "default"}},
        ),
        409,
        "SecurityGroupDefaultAlreadyExists",
    )
    assert conn.network.get_security_group(group.id).name == before


def test_rules_of_every_kind(tenant: Tenant) -> None:
    conn = tenant.conn
    group = conn.network.create_security_group(name=name("sg"), description="web")
    assert {r["direction"] for r in group.security_group_rules} == {"egress"}
    made = [
        conn.network.create_security_group_rule(
            security_group_id=group.id,
            direction="ingress",
            protocol="icmp",
            port_range_min=8,
            port_range_max=0,
        ),
        conn.network.create_security_group_rule(
            security_group_id=group.id,
            direction="ingress",
            protocol="udp",
            port_range_min=5000,
            port_range_max=5100,
            remote_ip_prefix="192.0.2.0/24",
        ),
        conn.network.create_security_group_rule(
            security_group_id=group.id,
            direction="ingress",
            ether_type="IPv6",
            protocol="58",
            remote_group_id=group.id,
        ),
        conn.network.create_security_group_rule(
            security_group_id=group.id,
            direction="egress",
            protocol="vrrp",
            remote_ip_prefix="198.51.100.7",
        ),
    ]
    assert made[3].remote_ip_prefix == "198.51.100.7/32"
    listed = {r.id for r in conn.network.security_group_rules(security_group_id=group.id)}
    assert {r.id for r in made} <= listed and len(listed) == 6
    conn.network.delete_security_group_rule(made[0])
    assert len(list(conn.network.security_group_rules(security_group_id=group.id))) == 5
    conn.network.delete_security_group(group)
    assert not list(conn.network.security_group_rules(security_group_id=group.id))
