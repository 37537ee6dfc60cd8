"""Application credentials: the CLI flow, role subsets, expiry, Keystone's restriction rule and
immediate invalidation on delete."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import uuid
from typing import Any

import openstack
import pytest

from tests.helpers.server import OPENSTACK, Server
from tests.identity import raw


def _appcred_cli(server: Server, cred_id: str, secret: str, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    result = subprocess.run(
        [
            OPENSTACK,
            "--os-auth-url",
            server.url + "/v3",
            "--os-auth-type",
            "v3applicationcredential",
            "--os-application-credential-id",
            cred_id,
            "--os-application-credential-secret",
            secret,
            *args,
            "-f",
            "json",
        ],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _connect(server: Server, cred_id: str, secret: str) -> openstack.connection.Connection:
    return openstack.connect(
        auth_type="v3applicationcredential",
        auth={
            "auth_url": server.url + "/v3",
            "application_credential_id": cred_id,
            "application_credential_secret": secret,
        },
    )


def _create(server: Server, token: str, user_id: str, **body: Any) -> Any:
    path = f"/v3/users/{user_id}/application_credentials"
    return raw.call(server, "POST", path, token, json={"application_credential": body})


def test_cli_create_then_authenticate_with_it(server: Server) -> None:
    made = server.cli_json("application", "credential", "create", "ci", cloud="overcast-demo")
    assert made["Secret"] and made["Name"] == "ci"
    assert {r["name"] for r in made["Roles"]} >= {"member"}
    try:
        token = _appcred_cli(server, made["ID"], made["Secret"], "token", "issue")
        assert token["project_id"] == made["Project ID"]
        shown = server.cli_json("application", "credential", "show", "ci", cloud="overcast-demo")
        assert "Secret" not in shown and shown["ID"] == made["ID"]
        # A restricted credential cannot make another one.
        conn = _connect(server, made["ID"], made["Secret"])
        with pytest.raises(openstack.exceptions.ForbiddenException):
            conn.identity.create_application_credential(conn.current_user_id, name="breed")
    finally:
        server.cli("application", "credential", "delete", "ci", cloud="overcast-demo")


def test_roles_subset_expiry_secret_and_access_rules(server: Server) -> None:
    demo = raw.token(server, "demo", "demo")
    info = raw.validate(server, demo, demo).json()["token"]
    uid = info["user"]["id"]
    name = f"ac-{uuid.uuid4().hex[:6]}"
    assert _create(server, demo, uid, name=name, roles=[{"name": "admin"}]).status_code == 400
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    assert _create(server, demo, uid, name=name, expires_at=past).status_code == 400
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    rules = [{"path": "/v2.1/servers", "method": "GET", "service": "compute"}]
    r = _create(
        server,
        demo,
        uid,
        name=name,
        secret="my-own-secret",
        roles=[{"name": "reader"}],
        expires_at=expires.strftime("%Y-%m-%dT%H:%M:%S"),
        access_rules=rules,
    )
    assert r.status_code == 201, r.text
    cred = r.json()["application_credential"]
    assert cred["secret"] == "my-own-secret"
    assert [role["name"] for role in cred["roles"]] == ["reader"]
    assert cred["access_rules"][0]["path"] == "/v2.1/servers" and cred["access_rules"][0]["id"]
    assert _create(server, demo, uid, name=name).status_code == 409
    body = {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {
                    "name": name,
                    "user": {"id": uid},
                    "secret": "my-own-secret",
                },
            }
        }
    }
    issued = raw.issue(server, body)
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert [role["name"] for role in token["roles"]] == ["reader"]
    assert token["application_credential"]["restricted"] is True
    assert token["expires_at"] <= expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    listed = raw.call(server, "GET", f"/v3/users/{uid}/application_credentials?name={name}", demo)
    assert [c["id"] for c in listed.json()["application_credentials"]] == [cred["id"]]
    assert "secret" not in listed.json()["application_credentials"][0]
    body["auth"]["identity"]["application_credential"]["secret"] = "nope"
    assert raw.issue(server, body).status_code == 401
    path = f"/v3/users/{uid}/application_credentials/{cred['id']}"
    assert raw.call(server, "DELETE", path, demo).status_code == 204


def test_delete_invalidates_tokens_at_once(server: Server) -> None:
    demo = raw.token(server, "demo", "demo")
    uid = raw.validate(server, demo, demo).json()["token"]["user"]["id"]
    r = _create(server, demo, uid, name=f"ac-{uuid.uuid4().hex[:6]}", unrestricted=True)
    cred = r.json()["application_credential"]
    conn = _connect(server, cred["id"], cred["secret"])
    token = conn.auth_token
    # An unrestricted credential may manage credentials.
    child = _create(server, token, uid, name=f"child-{uuid.uuid4().hex[:6]}")
    assert child.status_code == 201, child.text
    assert raw.call(server, "GET", "/v3/auth/projects", token).status_code == 200  # cached
    path = f"/v3/users/{uid}/application_credentials/{cred['id']}"
    assert raw.call(server, "DELETE", path, demo).status_code == 204
    assert raw.call(server, "GET", "/v3/auth/projects", token).status_code == 401
    assert raw.validate(server, raw.token(server), token).status_code == 404
    child_path = (
        f"/v3/users/{uid}/application_credentials/{child.json()['application_credential']['id']}"
    )
    assert raw.call(server, "DELETE", child_path, demo).status_code == 204


def test_credentials_belong_to_their_user(server: Server) -> None:
    admin = raw.token(server)
    demo = raw.token(server, "demo", "demo")
    admin_id = raw.validate(server, admin, admin).json()["token"]["user"]["id"]
    demo_id = raw.validate(server, demo, demo).json()["token"]["user"]["id"]
    # Not even an admin makes credentials for someone else.
    assert _create(server, admin, demo_id, name="theirs").status_code == 403
    path = f"/v3/users/{admin_id}/application_credentials"
    assert raw.call(server, "GET", path, demo).status_code == 403
    assert raw.call(server, "GET", f"{path}/whatever", demo).status_code == 403
    assert (
        raw.call(server, "GET", f"/v3/users/{demo_id}/application_credentials/x", demo).status_code
        == 404
    )
