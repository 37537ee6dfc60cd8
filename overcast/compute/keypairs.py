"""Key pairs: import or generate, list, show and delete one user's keys, with Nova's rules.

Called by `compute.api.keypairs`, and by the servers API at boot through `get_keypair`.
"""

from __future__ import annotations

import string

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.compute import keycrypto, quotas
from overcast.compute.models.keypairs import KeyPair

TYPES = ("ssh", "x509")
_SAFE = frozenset("_- " + string.digits + string.ascii_letters)
_SAFE_2_92 = _SAFE | {"@", "."}


def not_found(user_id: str, name: str) -> errors.NotFound:
    return errors.NotFound(f"Keypair {name} not found for user {user_id}")


def validate_name(name: str, *, allow_at_and_dot: bool = False) -> None:
    """Nova's name rules: 1-255 characters, letters, digits, `_`, `-` and space (and, from
    microversion 2.92, `@` and `.`)."""
    allowed = _SAFE_2_92 if allow_at_and_dot else _SAFE
    if any(c not in allowed for c in name):
        raise errors.BadRequest("Keypair data is invalid: Keypair name contains unsafe characters")
    if not 1 <= len(name) <= 255:
        raise errors.BadRequest(
            "Keypair data is invalid: Keypair name must be string and between 1 and 255 "
            "characters long"
        )


async def create(
    session: AsyncSession,
    user_id: str,
    project_id: str,
    name: str,
    *,
    key_type: str = "ssh",
    public_key: str | None = None,
    allow_at_and_dot: bool = False,
) -> tuple[KeyPair, str | None]:
    """Import `public_key`, or generate a key when it is None; returns (key pair, private key
    or None). Raises BadRequest (bad name or key), Forbidden (quota) or Conflict (name taken)."""
    validate_name(name, allow_at_and_dot=allow_at_and_dot)
    if key_type not in TYPES:
        raise errors.BadRequest(f"Invalid keypair type: {key_type}")
    allowed = (await quotas.limits(session, project_id)).get("key_pairs", quotas.UNLIMITED)
    count = await session.scalar(
        select(func.count()).select_from(KeyPair).where(KeyPair.user_id == user_id)
    )
    if 0 <= allowed <= (count or 0):
        raise quotas.QuotaExceeded("Quota exceeded, too many key pairs.")
    if await _find(session, user_id, name) is not None:
        raise errors.Conflict(f"Key pair '{name}' already exists.")
    private_key = None
    if public_key is None:
        if key_type == "x509":
            private_key, public_key = keycrypto.generate_x509(user_id)
        else:
            private_key, public_key = keycrypto.generate_ssh()
    keypair = KeyPair(
        name=name,
        user_id=user_id,
        type=key_type,
        public_key=public_key,
        fingerprint=keycrypto.fingerprint(key_type, public_key),
    )
    session.add(keypair)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise errors.Conflict(f"Key pair '{name}' already exists.") from exc
    return keypair, private_key


async def _find(session: AsyncSession, user_id: str, name: str) -> KeyPair | None:
    stmt = select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get(session: AsyncSession, user_id: str, name: str) -> KeyPair:
    """The key pair `name` of `user_id`; NotFound (404) otherwise."""
    found = await _find(session, user_id, name)
    if found is None:
        raise not_found(user_id, name)
    return found


async def get_keypair(session: AsyncSession, user_id: str, name: str) -> KeyPair:
    """For a boot naming `key_name`: the caller's key pair, or BadRequest (400) as Nova says
    when the name is unknown or belongs to another user."""
    found = await _find(session, user_id, name)
    if found is None:
        raise errors.BadRequest("Invalid key_name provided.")
    return found


async def list_for_user(
    session: AsyncSession, user_id: str, *, limit: int | None = None, marker: str | None = None
) -> list[KeyPair]:
    """A user's key pairs in creation order, after the one named `marker`."""
    stmt = select(KeyPair).where(KeyPair.user_id == user_id).order_by(KeyPair.id)
    if marker is not None:
        after = await _find(session, user_id, marker)
        if after is None:
            raise errors.BadRequest(f"Marker {marker} could not be found.")
        stmt = stmt.where(KeyPair.id > after.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())


async def delete(session: AsyncSession, user_id: str, name: str) -> None:
    """Delete a key pair; NotFound if `user_id` has none by that name."""
    await session.delete(await get(session, user_id, name))
