"""Key pairs through the openstack CLI, openstacksdk and raw microversioned calls: import and
generation, ssh and x509, per-user isolation, Nova's errors on bad input."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.compute.nova_http import call, fault
from tests.helpers.isolation import assert_hidden
from tests.helpers.server import Server


def _public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return raw.decode() + " test@overcast"


def test_cli_keypair_create_list_delete(server: Server, admin: Any, tmp_path: Path) -> None:
    name = f"kp-{uuid.uuid4().hex[:6]}"
    private = server.cli("keypair", "create", name).stdout
    assert "PRIVATE KEY" in private
    listed = server.cli_json("keypair", "list")
    mine = [k for k in listed if k["Name"] == name]
    assert mine and mine[0]["Type"] == "ssh" and mine[0]["Fingerprint"].count(":") == 15

    pub = tmp_path / "id.pub"
    pub.write_text(_public_key())
    imported = server.cli_json("keypair", "create", "--public-key", str(pub), f"{name}-imp")
    assert imported["name"] == f"{name}-imp" and imported["type"] == "ssh"
    assert admin.compute.get_keypair(f"{name}-imp").fingerprint == imported["fingerprint"]

    server.cli("keypair", "delete", name, f"{name}-imp")
    assert not {name, f"{name}-imp"} & {k.name for k in admin.compute.keypairs()}


def test_sdk_generate_and_microversions(admin: Any) -> None:
    name = f"kp-{uuid.uuid4().hex[:6]}"
    made = admin.compute.create_keypair(name=name)  # SDK at 2.10: the server generates the key
    try:
        assert made.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----")
        assert made.public_key.startswith("ssh-rsa ") and made.user_id
        assert admin.compute.get_keypair(name).fingerprint == made.fingerprint
        old = call(admin, "GET", f"/os-keypairs/{name}", "2.1").json()["keypair"]
        assert "type" not in old and old["deleted"] is False
        created = call(admin, "POST", "/os-keypairs", "2.1", {"keypair": {"name": name + "1"}})
        assert created.status_code == 200 and "type" not in created.json()["keypair"]
        assert call(admin, "DELETE", f"/os-keypairs/{name}1", "2.1").status_code == 202
        x509 = call(
            admin, "POST", "/os-keypairs", "2.2", {"keypair": {"name": name + "x", "type": "x509"}}
        )
        assert x509.status_code == 201 and x509.json()["keypair"]["type"] == "x509"
        assert "BEGIN CERTIFICATE" in x509.json()["keypair"]["public_key"]
        page = call(admin, "GET", "/os-keypairs?limit=1", "2.35").json()
        assert len(page["keypairs"]) == 1 and "marker=" in page["keypairs_links"][0]["href"]
        # 2.92: import only; generation is refused, `@` and `.` are allowed in names.
        fault(
            call(admin, "POST", "/os-keypairs", "2.92", {"keypair": {"name": "g"}}),
            400,
            "public_key",
        )
        ok = call(
            admin,
            "POST",
            "/os-keypairs",
            "2.92",
            {"keypair": {"name": f"{name}@a.b", "public_key": _public_key()}},
        )
        assert ok.status_code == 201
    finally:
        for kp in (name, name + "x", f"{name}@a.b"):
            call(admin, "DELETE", f"/os-keypairs/{kp}", "2.92")


def test_bad_input_answers_nova_errors(admin: Any) -> None:
    name = f"kp-{uuid.uuid4().hex[:6]}"
    for body, needle in [
        ({}, "'keypair' is a required property"),
        ({"keypair": {}}, "'name' is a required property"),
        ({"keypair": {"name": 5}}, "is not of type 'string'"),
        ({"keypair": {"name": "a/b"}}, "Keypair name contains unsafe characters"),
        ({"keypair": {"name": "x" * 256}}, "too long"),
        ({"keypair": {"name": name, "public_key": "not a key"}}, "failed to generate fingerprint"),
        ({"keypair": {"name": name, "type": "rsa"}}, "is not one of"),
        ({"keypair": {"name": name, "bogus": 1}}, "Additional properties"),
        ({"keypair": {"name": name, "type": "x509", "public_key": "junk"}}, "X509"),
    ]:
        fault(call(admin, "POST", "/os-keypairs", "2.10", body), 400, needle)
    fault(
        call(admin, "POST", "/os-keypairs", "2.1", {"keypair": {"name": name, "type": "ssh"}}),
        400,
        "Additional properties",
    )
    assert admin.compute.find_keypair(name) is None
    fault(call(admin, "GET", f"/os-keypairs/{name}"), 404, f"Keypair {name} not found")
    fault(call(admin, "DELETE", f"/os-keypairs/{name}"), 404)
    admin.compute.create_keypair(name=name, public_key=_public_key())
    try:
        fault(
            call(
                admin,
                "POST",
                "/os-keypairs",
                "2.10",
                {"keypair": {"name": name, "public_key": _public_key()}},
            ),
            409,
            "already exists",
        )
    finally:
        admin.compute.delete_keypair(name)


def test_keypairs_are_per_user(tenant_factory: Any, admin: Any) -> None:
    a, b = tenant_factory(), tenant_factory()
    name = "shared-name"
    a.conn.compute.create_keypair(name=name, public_key=_public_key())
    b.conn.compute.create_keypair(name=name, public_key=_public_key())  # same name, other user
    assert [k.name for k in b.conn.compute.keypairs()] == [name]
    a.conn.compute.create_keypair(name="only-a", public_key=_public_key())
    assert_hidden(
        lambda: b.conn.compute.get_keypair("only-a"),
        lambda: b.conn.compute.delete_keypair("only-a", ignore_missing=False),
    )
    fault(call(b.conn, "GET", f"/os-keypairs?user_id={a.user_id}", "2.10"), 403)
    fault(call(b.conn, "GET", f"/os-keypairs/only-a?user_id={a.user_id}", "2.10"), 403)
    # Admins reach any user's keys from 2.10.
    listed = call(admin, "GET", f"/os-keypairs?user_id={a.user_id}", "2.10").json()["keypairs"]
    assert {k["keypair"]["name"] for k in listed} == {name, "only-a"}
    assert a.conn.compute.get_keypair("only-a").name == "only-a"
