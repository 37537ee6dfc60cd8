"""Credential blobs encrypted at rest, as Keystone's credential provider keeps them: Fernet
with a key repository of their own (`DATA_DIR/credential-keys`, apart from the token keys, the
same on every API node), each row recording which primary key encrypted it (`key_hash`).

Rotation never strands a row: `rotate` first re-encrypts whatever an older key encrypted,
then promotes the staged key, then re-encrypts every row with the new primary, while the old
primary is still there to decrypt. Called by the credentials domain, identity's start and
`overcast keys rotate --credentials`.
"""

from __future__ import annotations

import hashlib
import time

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.config import Settings
from overcast.common.db.session import Database
from overcast.identity import models
from overcast.identity.keys import KeyRepository


def repository(settings: Settings) -> KeyRepository:
    return KeyRepository(settings.data_dir / "credential-keys", settings.identity.max_active_keys)


class CredentialCipher:
    """Encrypts with the repository's primary key, decrypts with any of its keys; sees a
    rotation made by another process within a second."""

    def __init__(self, repo: KeyRepository) -> None:
        self.repo = repo
        self._signature: tuple[tuple[int, float], ...] = ()
        self._checked = 0.0
        self._fernet = MultiFernet([Fernet(Fernet.generate_key())])
        self._primary_hash = ""

    def _fresh(self) -> None:
        now = time.monotonic()
        if self._signature and now - self._checked < 1.0:
            return
        self._checked = now
        signature = self.repo.signature()
        if signature != self._signature:
            self._fernet = self.repo.fernet()
            self._primary_hash = hashlib.sha256(self.repo.primary()).hexdigest()
            self._signature = signature

    @property
    def primary_hash(self) -> str:
        self._fresh()
        return self._primary_hash

    def encrypt(self, blob: str) -> tuple[str, str]:
        """(the encrypted blob, the hash of the key that encrypted it)."""
        self._fresh()
        return self._fernet.encrypt(blob.encode()).decode(), self._primary_hash

    def decrypt(self, encrypted: str) -> str:
        self._fresh()
        try:
            return self._fernet.decrypt(encrypted.encode()).decode()
        except InvalidToken:
            raise errors.ServiceUnavailable(
                "A credential could not be decrypted: its key is not in the credential key "
                "repository."
            ) from None


async def reencrypt(session: AsyncSession, cipher: CredentialCipher) -> int:
    """Encrypt with the primary key every row that another key encrypted; how many."""
    primary = cipher.primary_hash
    rows = await session.execute(
        select(models.Credential).where(models.Credential.key_hash != primary)
    )
    count = 0
    for cred in rows.scalars():
        cred.encrypted_blob, cred.key_hash = cipher.encrypt(cipher.decrypt(cred.encrypted_blob))
        count += 1
    return count


async def rotate(settings: Settings) -> tuple[int, int]:
    """Rotate the credential keys and re-encrypt every credential: (new primary, rows)."""
    repo = repository(settings)
    repo.ensure()
    db = Database(settings.db_url, settings.database)
    try:
        async with db.session() as session:
            await reencrypt(session, CredentialCipher(repo))
        primary = repo.rotate()
        async with db.session() as session:
            count = await reencrypt(session, CredentialCipher(repo))
    finally:
        await db.close()
    return primary, count
