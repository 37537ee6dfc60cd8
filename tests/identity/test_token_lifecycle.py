"""Tokens over time, on private servers: revocations survive a restart, expired tokens are
refused, and tokens outlive one key rotation (`overcast keys rotate`)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import httpx
from cryptography.fernet import Fernet, InvalidToken

from tests.helpers.server import Server
from tests.identity import raw


def test_revocation_survives_restart(start_server: Callable[..., Server]) -> None:
    srv = start_server()
    admin, demo = raw.token(srv), raw.token(srv, "demo", "demo")
    keep = raw.token(srv, "demo", "demo")
    r = raw.call(srv, "DELETE", "/v3/auth/tokens", admin, headers={"X-Subject-Token": demo})
    assert r.status_code == 204
    srv.stop()
    srv = start_server(data_dir=srv.data_dir)
    assert raw.validate(srv, admin, demo).status_code == 404
    assert raw.call(srv, "GET", "/v3/auth/projects", demo).status_code == 401
    assert raw.validate(srv, admin, keep).status_code == 200  # only that token was revoked


def test_expired_tokens_are_refused(start_server: Callable[..., Server]) -> None:
    srv = start_server(env={"OVERCAST_IDENTITY__TOKEN_EXPIRATION": "2"})
    token = raw.token(srv, "demo", "demo")
    assert raw.call(srv, "GET", "/v3/auth/projects", token).status_code == 200  # cached now
    time.sleep(2.2)
    r = raw.call(srv, "GET", "/v3/auth/projects", token)
    assert r.status_code == 401
    assert "expired" in r.json()["error"]["message"]
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    assert raw.issue(srv, rescope).status_code == 401


def _rotate(srv: Server) -> None:
    cmd = [sys.executable, "-m", "overcast.cli", "keys", "rotate", "--data-dir", str(srv.data_dir)]
    subprocess.run(cmd, check=True, capture_output=True, env=srv.env, timeout=60)
    time.sleep(1.1)  # a running server looks at its key directory once a second


def _primary(srv: Server) -> Fernet:
    keys = srv.data_dir / "fernet-keys"
    index = max(int(p.name) for p in keys.iterdir() if p.name.isdigit())
    return Fernet((keys / str(index)).read_bytes())


def test_tokens_survive_one_key_rotation(start_server: Callable[..., Server]) -> None:
    srv = start_server()
    old = raw.token(srv, "demo", "demo")
    _rotate(srv)
    admin = raw.token(srv)
    # New tokens are made with the new primary key; the old one still validates.
    _primary(srv).decrypt(admin + "=" * (-len(admin) % 4))
    assert raw.validate(srv, admin, old).status_code == 200
    _rotate(srv)  # with three keys kept, the key that made `old` is now gone
    assert raw.validate(srv, admin, old).status_code == 404
    assert raw.validate(srv, admin, admin).status_code == 200
    try:
        _primary(srv).decrypt(old + "=" * (-len(old) % 4))
        raise AssertionError("the old token decrypted with the new primary")
    except InvalidToken:
        pass
    assert httpx.get(srv.url + "/v3").status_code == 200
