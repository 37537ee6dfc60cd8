"""Tokens are not stored: a Fernet-encrypted, signed payload that says who, which scope, until when.

The payload is compact JSON: version, user, methods, scope, expiry, audit ids and, for
application credentials, the credential id. Issue time is the Fernet timestamp's job too, but
is kept in the payload so revocation events can compare it exactly.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import InvalidToken, MultiFernet

from overcast.common import errors
from overcast.identity.keys import KeyRepository

VERSION = 1


def new_audit_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


def isoformat(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


@dataclass(frozen=True)
class TokenData:
    user_id: str
    methods: tuple[str, ...]
    expires_at: dt.datetime
    issued_at: dt.datetime
    audit_ids: tuple[str, ...]  # [own audit id, audit id of the token it was made from]
    project_id: str | None = None
    domain_id: str | None = None
    system: str | None = None
    application_credential_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def audit_chain_id(self) -> str:
        return self.audit_ids[-1]


class TokenFormatter:
    def __init__(self, keys: KeyRepository) -> None:
        self.keys = keys
        self._fernet: MultiFernet | None = None
        self._signature: tuple[tuple[int, float], ...] = ()
        self._looked = 0.0
        self._generation = 0

    def _crypto(self) -> MultiFernet:
        # Rotation happens on disk (`overcast keys rotate`); look for it at most once a second
        # rather than listing the key directory for every token.
        now = time.monotonic()
        if self._fernet is None or now - self._looked >= 1.0:
            self._looked = now
            signature = self.keys.signature()
            if self._fernet is None or signature != self._signature:
                self._fernet = self.keys.fernet()
                self._signature = signature
                self._generation += 1
        return self._fernet

    @property
    def key_generation(self) -> int:
        """Changes when the keys on disk changed (checked at most once a second)."""
        self._crypto()
        return self._generation

    def reload(self) -> None:
        self._fernet = None

    def encode(self, data: TokenData) -> str:
        payload = {
            "v": VERSION,
            "u": data.user_id,
            "m": list(data.methods),
            "e": data.expires_at.timestamp(),
            "i": data.issued_at.timestamp(),
            "a": list(data.audit_ids),
        }
        for key, value in (
            ("p", data.project_id),
            ("d", data.domain_id),
            ("s", data.system),
            ("c", data.application_credential_id),
        ):
            if value is not None:
                payload[key] = value
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return self._crypto().encrypt(raw).decode().rstrip("=")

    def decode(self, token: str) -> TokenData:
        """Decrypt and verify a token; raise Unauthorized if it is tampered with or expired."""
        try:
            padded = token + "=" * (-len(token) % 4)
            raw = self._crypto().decrypt(padded.encode())
            payload = json.loads(raw)
            data = TokenData(
                user_id=payload["u"],
                methods=tuple(payload["m"]),
                expires_at=dt.datetime.fromtimestamp(payload["e"], dt.UTC),
                issued_at=dt.datetime.fromtimestamp(payload["i"], dt.UTC),
                audit_ids=tuple(payload["a"]),
                project_id=payload.get("p"),
                domain_id=payload.get("d"),
                system=payload.get("s"),
                application_credential_id=payload.get("c"),
            )
        except (InvalidToken, ValueError, KeyError, TypeError) as exc:
            raise errors.Unauthorized("The request you have made requires authentication.") from exc
        if data.expires_at <= dt.datetime.now(dt.UTC):
            raise errors.Unauthorized("The token has expired.")
        return data


def random_secret(nbytes: int = 32) -> str:
    """URL-safe, and never beginning with "-": command lines (the `openstack` client's
    `--os-application-credential-secret S`, a password option) would take it for an option."""
    while True:
        secret = base64.urlsafe_b64encode(os.urandom(nbytes)).decode().rstrip("=")
        if not secret.startswith("-"):
            return secret
