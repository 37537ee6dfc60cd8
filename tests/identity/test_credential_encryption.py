"""Credential blobs at rest: encrypted with the credential keys (`DATA_DIR/credential-keys`),
never in the database in the clear; `overcast keys rotate --credentials` re-encrypts them so
that EC2 credentials (`openstack ec2 credentials`) and S3 signatures outlive any number of
rotations; the migration encrypts rows written before it, and its downgrade restores them."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command

from overcast.common.db import migrate
from overcast.identity import credential_keys, service
from overcast.identity.keys import KeyRepository
from tests.helpers.server import Server
from tests.object_store.test_s3 import s3_client

MIGRATIONS = Path(service.__file__).parent / "migrations"


def _rotate(srv: Server) -> str:
    cmd = [sys.executable, "-m", "overcast.cli", "keys", "rotate", "--credentials"]
    done = subprocess.run(
        [*cmd, "--data-dir", str(srv.data_dir)],
        check=True,
        capture_output=True,
        text=True,
        env=srv.env,
        timeout=120,
    )
    time.sleep(1.1)  # a running server looks at its key directory once a second
    return done.stdout


def _rows(srv: Server) -> list[tuple[str, str]]:
    with sqlite3.connect(srv.data_dir / "overcast.db") as db:
        return db.execute("SELECT encrypted_blob, key_hash FROM identity_credential").fetchall()


def test_secrets_are_encrypted_and_survive_rotations(
    start_server: Callable[..., Server],
) -> None:
    srv = start_server()
    if "OVERCAST_DATABASE_URL" in srv.db_env:
        pytest.skip("reads the SQLite database's file")
    made = srv.cli_json("ec2", "credentials", "create")
    raw = b"".join(p.read_bytes() for p in srv.data_dir.glob("overcast.db*"))
    assert made["secret"].encode() not in raw and made["access"].encode() not in raw
    repo = KeyRepository(srv.data_dir / "credential-keys")
    [(_blob, key_hash)] = _rows(srv)
    assert key_hash == hashlib.sha256(repo.primary()).hexdigest()

    s3 = s3_client(srv, made["access"], made["secret"])
    s3.create_bucket(Bucket="kept-across-rotations")
    for turn in range(4):  # more rotations than keys are kept (3)
        assert "1 credentials re-encrypted" in _rotate(srv)
        [(_blob, key_hash)] = _rows(srv)
        assert key_hash == hashlib.sha256(repo.primary()).hexdigest()
        shown = srv.cli_json("ec2", "credentials", "show", made["access"])
        assert shown["secret"] == made["secret"], turn
        assert s3.head_bucket(Bucket="kept-across-rotations")
    wrong = s3_client(srv, made["access"], "not the secret")
    with pytest.raises(Exception, match="SignatureDoesNotMatch|403"):
        wrong.list_buckets()
    # made after the rotations, with the new primary, listed with the old one
    other = srv.cli_json("ec2", "credentials", "create")
    listed = {c["Access"]: c["Secret"] for c in srv.cli_json("ec2", "credentials", "list")}
    assert listed == {made["access"]: made["secret"], other["access"]: other["secret"]}


def test_migration_encrypts_existing_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = migrate.alembic_config("identity", MIGRATIONS, url)
    command.upgrade(cfg, "b3d5a7c9e1f2")  # before credentials were encrypted
    blob = '{"access": "a1", "secret": "plain secret", "trust_id": null}'
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute(
            "INSERT INTO identity_credential (id, user_id, project_id, type, blob, extra, "
            "created_at) VALUES ('c1', 'u1', 'p1', 'ec2', ?, '{}', '2026-01-01 00:00:00')",
            (blob,),
        )
    with pytest.raises(RuntimeError, match="credential keys"):
        command.upgrade(migrate.alembic_config("identity", MIGRATIONS, url), "head")

    repo = KeyRepository(tmp_path / "credential-keys")
    repo.ensure()
    cipher = credential_keys.CredentialCipher(repo)
    cfg.attributes["credential_cipher"] = cipher
    command.upgrade(cfg, "head")
    with sqlite3.connect(tmp_path / "old.db") as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(identity_credential)")]
        [(encrypted, key_hash)] = db.execute(
            "SELECT encrypted_blob, key_hash FROM identity_credential"
        ).fetchall()
    assert "blob" not in columns
    assert b"plain secret" not in (tmp_path / "old.db").read_bytes()
    assert cipher.decrypt(encrypted) == blob and key_hash == cipher.primary_hash

    command.downgrade(cfg, "b3d5a7c9e1f2")
    with sqlite3.connect(tmp_path / "old.db") as db:
        assert db.execute("SELECT blob FROM identity_credential").fetchall() == [(blob,)]
