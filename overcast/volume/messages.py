"""User messages (`/v3/messages`): what a user is told when an asynchronous operation fails,
recorded by the scheduler and the agents. Codes follow Cinder's (action and detail ids), so
`event_id` reads the same: `VOLUME_<resource>_<action>_<detail>`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.db.base import utcnow
from overcast.volume.models.hosts import Message

ACTIONS = {
    "001": "schedule allocate volume",
    "002": "attach volume",
    "003": "copy volume to image",
    "004": "update attachment",
    "005": "copy image to volume",
    "006": "unmanage volume",
    "007": "extend volume",
    "008": "create volume from backend storage",
    "009": "snapshot create",
    "010": "snapshot delete",
    "013": "create backup",
    "014": "delete backup",
    "015": "restore backup",
    "016": "reimage volume",
    "017": "migrate volume",
}
DETAILS = {
    "001": "An unknown error occurred.",
    "002": "Driver is not initialized at present.",
    "003": "Could not find any available weighted backend.",
    "004": "Failed to upload volume to image at image service.",
    "005": "Volume's attach mode is invalid.",
    "006": "Not enough quota resource for operation.",
    "007": "Image used for creating volume exceeds available space.",
    "008": "Volume driver failed to extend the volume.",
    "009": "Image signature verification failed.",
    "010": "Volume driver failed to create the volume.",
    "011": "Volume driver failed to delete the snapshot.",
    "012": "Volume driver failed to create the snapshot.",
    "013": "Backup driver failed to create the backup.",
    "014": "Backup driver failed to delete the backup.",
    "015": "Backup driver failed to restore the backup.",
    "016": "The process was interrupted and did not finish.",
}

SCHEDULE = "001"
COPY_VOLUME_TO_IMAGE = "003"
COPY_IMAGE_TO_VOLUME = "005"
EXTEND = "007"
CREATE_FROM_BACKEND = "008"
SNAPSHOT_CREATE = "009"
SNAPSHOT_DELETE = "010"
BACKUP_CREATE = "013"
BACKUP_DELETE = "014"
BACKUP_RESTORE = "015"
REIMAGE = "016"
MIGRATE = "017"

UNKNOWN = "001"
NO_BACKEND = "003"
UPLOAD_FAILED = "004"
IMAGE_TOO_BIG = "007"
DRIVER_EXTEND = "008"
DRIVER_CREATE = "010"
DRIVER_SNAPSHOT_DELETE = "011"
DRIVER_SNAPSHOT_CREATE = "012"
BACKUP_DRIVER_CREATE = "013"
BACKUP_DRIVER_DELETE = "014"
BACKUP_DRIVER_RESTORE = "015"
INTERRUPTED = "016"


def record(
    session: AsyncSession,
    *,
    project_id: str,
    resource_type: str,
    resource_id: str | None,
    action: str,
    detail: str,
    request_id: str | None = None,
    ttl: int = 2592000,
) -> None:
    now = utcnow()
    session.add(
        Message(
            project_id=project_id,
            request_id=request_id,
            resource_type=resource_type,
            resource_uuid=resource_id,
            action_id=action,
            detail_id=detail,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=ttl),
        )
    )


def user_message(message: Message) -> str:
    return f"{ACTIONS.get(message.action_id, 'unknown')}: {DETAILS.get(message.detail_id, '')}"


def event_id(message: Message) -> str:
    return f"VOLUME_{message.resource_type}_{message.action_id}_{message.detail_id}"
