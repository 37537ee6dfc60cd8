"""Volume transfers between projects: the source project offers a volume (it waits in
`awaiting-transfer`), anyone holding the transfer id and its auth key accepts it into their
project (quota checked there); the key is kept only as a salted hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.volume import quotas
from overcast.volume.models.transfers import Transfer
from overcast.volume.models.volumes import Snapshot, Volume
from overcast.volume.state import VolumeState


def not_found(transfer_id: str) -> errors.NotFound:
    return errors.NotFound(f"Transfer {transfer_id} could not be found.")


def _hash(salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}{key}".encode()).hexdigest()


async def get(
    session: AsyncSession, transfer_id: str, project_id: str | None, admin: bool
) -> Transfer:
    """`project_id` None: any project's (to accept with the key)."""
    found = await session.get(Transfer, transfer_id)
    if found is None or found.deleted or found.accepted:
        raise not_found(transfer_id)
    if project_id is not None and not admin and found.source_project_id != project_id:
        raise not_found(transfer_id)
    return found


async def create(
    session: AsyncSession, volume: Volume, name: str | None, no_snapshots: bool
) -> tuple[Transfer, str]:
    if volume.status != "available":
        raise errors.BadRequest(
            f"Invalid volume: Status of volume {volume.id} must be available, but current"
            f" status is {volume.status}."
        )
    key = secrets.token_hex(8)
    salt = secrets.token_hex(8)
    transfer = Transfer(
        volume_id=volume.id,
        name=name,
        salt=salt,
        crypt_hash=_hash(salt, key),
        source_project_id=volume.project_id,
        no_snapshots=no_snapshots,
        created_at=utcnow(),
    )
    session.add(transfer)
    volume.status = "awaiting-transfer"
    volume.updated_at = utcnow()
    await session.flush()
    return transfer, key


async def cancel(session: AsyncSession, transfer: Transfer) -> None:
    transfer.deleted = True
    volume = await session.get(Volume, transfer.volume_id)
    if volume is not None and volume.status == "awaiting-transfer":
        volume.status = "available"
        volume.updated_at = utcnow()


async def accept(
    state: VolumeState, session: AsyncSession, transfer: Transfer, key: str, ctx: dict[str, Any]
) -> Volume:
    if not hmac.compare_digest(_hash(transfer.salt, key), transfer.crypt_hash):
        raise errors.BadRequest(
            f"Invalid auth key: Attempt to transfer {transfer.id} with invalid auth key."
        )
    volume = await session.get(Volume, transfer.volume_id)
    if volume is None or volume.deleted or volume.status != "awaiting-transfer":
        raise errors.BadRequest(
            f"Invalid volume: Volume {transfer.volume_id} is not awaiting transfer."
        )
    target = ctx["project_id"]
    snaps = (
        []
        if transfer.no_snapshots
        else list(
            (
                await session.execute(
                    select(Snapshot).where(
                        Snapshot.volume_id == volume.id, Snapshot.deleted.is_(False)
                    )
                )
            ).scalars()
        )
    )
    if transfer.no_snapshots and await session.scalar(
        select(Snapshot.id).where(Snapshot.volume_id == volume.id, Snapshot.deleted.is_(False))
    ):
        raise errors.BadRequest(
            "Invalid volume: a volume with snapshots cannot be transferred without them."
        )
    await quotas.reserve(
        session,
        state.settings.volume,
        target,
        {
            "volumes": 1,
            "gigabytes": volume.size + sum(s.volume_size for s in snaps),
            "snapshots": len(snaps),
        },
        {
            volume.volume_type_id: {
                "volumes": 1,
                "snapshots": len(snaps),
                "gigabytes": volume.size + sum(s.volume_size for s in snaps),
            }
        },
    )
    volume.project_id = target
    volume.user_id = ctx["user_id"]
    volume.status = "available"
    volume.updated_at = utcnow()
    for snap in snaps:
        snap.project_id = target
        snap.user_id = ctx["user_id"]
    transfer.accepted = True
    transfer.destination_project_id = target
    return volume
