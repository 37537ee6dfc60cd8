"""Password and secret hashing with bcrypt, off the event loop (a check takes ~250 ms at cost 12)."""

from __future__ import annotations

import asyncio
import hashlib

import bcrypt

# bcrypt reads at most 72 bytes; longer secrets are pre-hashed so every byte counts.
_BCRYPT_LIMIT = 72


def _prepare(secret: str) -> bytes:
    raw = secret.encode("utf-8")
    if len(raw) > _BCRYPT_LIMIT:
        raw = hashlib.sha256(raw).hexdigest().encode()
    return raw


def hash_sync(secret: str, rounds: int) -> str:
    return bcrypt.hashpw(_prepare(secret), bcrypt.gensalt(rounds)).decode()


def verify_sync(secret: str, hashed: str | None) -> bool:
    if not hashed:
        # Spend the same time as a real check, so a missing user is not told apart by timing.
        bcrypt.checkpw(b"x", _dummy())
        return False
    return bcrypt.checkpw(_prepare(secret), hashed.encode())


async def hash_secret(secret: str, rounds: int) -> str:
    return await asyncio.to_thread(hash_sync, secret, rounds)


async def verify(secret: str, hashed: str | None) -> bool:
    return await asyncio.to_thread(verify_sync, secret, hashed)


_dummy_rounds = 12
_dummy_hashes: dict[int, bytes] = {}


def _dummy() -> bytes:
    if _dummy_rounds not in _dummy_hashes:
        _dummy_hashes[_dummy_rounds] = bcrypt.hashpw(
            b"not-a-password", bcrypt.gensalt(_dummy_rounds)
        )
    return _dummy_hashes[_dummy_rounds]


def set_dummy_rounds(rounds: int) -> None:
    """Make the timing-equaliser hash cost the same as real hashes (made on first use)."""
    global _dummy_rounds
    _dummy_rounds = rounds
