"""Instance states as Nova defines them, and the API status each (vm_state, task_state) shows.

vm_state is where an instance rests, task_state what is being done to it (None when idle),
power_state what the driver last said about the guest.
"""

from __future__ import annotations

# vm_state
ACTIVE = "active"
BUILDING = "building"
PAUSED = "paused"
SUSPENDED = "suspended"
STOPPED = "stopped"
RESCUED = "rescued"
RESIZED = "resized"
SOFT_DELETED = "soft-delete"
DELETED = "deleted"
ERROR = "error"
SHELVED = "shelved"
SHELVED_OFFLOADED = "shelved_offloaded"

# task_state
SCHEDULING = "scheduling"
BLOCK_DEVICE_MAPPING = "block_device_mapping"
NETWORKING = "networking"
SPAWNING = "spawning"
IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_SNAPSHOT_PENDING = "image_snapshot_pending"
IMAGE_PENDING_UPLOAD = "image_pending_upload"
IMAGE_UPLOADING = "image_uploading"
UPDATING_PASSWORD = "updating_password"
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_MIGRATED = "resize_migrated"
RESIZE_FINISH = "resize_finish"
RESIZE_REVERTING = "resize_reverting"
RESIZE_CONFIRMING = "resize_confirming"
REBOOTING = "rebooting"
REBOOT_PENDING = "reboot_pending"
REBOOT_STARTED = "reboot_started"
REBOOTING_HARD = "rebooting_hard"
REBOOT_PENDING_HARD = "reboot_pending_hard"
REBOOT_STARTED_HARD = "reboot_started_hard"
PAUSING = "pausing"
UNPAUSING = "unpausing"
SUSPENDING = "suspending"
RESUMING = "resuming"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
RESCUING = "rescuing"
UNRESCUING = "unrescuing"
REBUILDING = "rebuilding"
REBUILD_BLOCK_DEVICE_MAPPING = "rebuild_block_device_mapping"
REBUILD_SPAWNING = "rebuild_spawning"
MIGRATING = "migrating"

# Migration records: the statuses of a move still under way (a resize waiting for its
# confirmation is `finished`), and the task states of a resize whose step runs on the
# destination (the other steps run on the source).
MOVE_IN_FLIGHT = ("pre-migrating", "migrating", "post-migrating", "preparing", "running", "queued")
# A live migration whose guest QEMU has handed to the destination (Nova's status for the steps
# after the switch-over): from then on the move only goes forward, whichever host restarts.
SWITCHED_OVER = "post-migrating"
# A move still holds the instance (its flavors, its guests on both hosts) until it is confirmed.
MOVE_UNSETTLED = (*MOVE_IN_FLIGHT, "finished")
DESTINATION_STEPS = (RESIZE_MIGRATED, RESIZE_FINISH)
DELETING = "deleting"
SHELVING = "shelving"
SHELVING_IMAGE_PENDING_UPLOAD = "shelving_image_pending_upload"
SHELVING_IMAGE_UPLOADING = "shelving_image_uploading"
SHELVING_OFFLOADING = "shelving_offloading"
UNSHELVING = "unshelving"

# power_state
NOSTATE = 0
RUNNING = 1
PAUSED_POWER = 3
SHUTDOWN = 4
CRASHED = 6
SUSPENDED_POWER = 7

POWER_NAMES = {
    NOSTATE: "NOSTATE",
    RUNNING: "RUNNING",
    PAUSED_POWER: "PAUSED",
    SHUTDOWN: "SHUTDOWN",
    CRASHED: "CRASHED",
    SUSPENDED_POWER: "SUSPENDED",
}

_DEFAULT = "default"
_STATUS: dict[str, dict[str | None, str]] = {
    ACTIVE: {
        _DEFAULT: "ACTIVE",
        REBOOTING: "REBOOT",
        REBOOT_PENDING: "REBOOT",
        REBOOT_STARTED: "REBOOT",
        REBOOTING_HARD: "HARD_REBOOT",
        REBOOT_PENDING_HARD: "HARD_REBOOT",
        REBOOT_STARTED_HARD: "HARD_REBOOT",
        UPDATING_PASSWORD: "PASSWORD",
        REBUILDING: "REBUILD",
        REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
        REBUILD_SPAWNING: "REBUILD",
        MIGRATING: "MIGRATING",
        RESIZE_PREP: "RESIZE",
        RESIZE_MIGRATING: "RESIZE",
        RESIZE_MIGRATED: "RESIZE",
        RESIZE_FINISH: "RESIZE",
    },
    BUILDING: {_DEFAULT: "BUILD"},
    STOPPED: {
        _DEFAULT: "SHUTOFF",
        RESIZE_PREP: "RESIZE",
        RESIZE_MIGRATING: "RESIZE",
        RESIZE_MIGRATED: "RESIZE",
        RESIZE_FINISH: "RESIZE",
        REBUILDING: "REBUILD",
        REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
        REBUILD_SPAWNING: "REBUILD",
    },
    RESIZED: {_DEFAULT: "VERIFY_RESIZE", RESIZE_REVERTING: "REVERT_RESIZE"},
    PAUSED: {_DEFAULT: "PAUSED", MIGRATING: "MIGRATING"},
    SUSPENDED: {_DEFAULT: "SUSPENDED"},
    RESCUED: {_DEFAULT: "RESCUE"},
    ERROR: {_DEFAULT: "ERROR", REBUILDING: "REBUILD", REBUILD_SPAWNING: "REBUILD"},
    DELETED: {_DEFAULT: "DELETED"},
    SOFT_DELETED: {_DEFAULT: "SOFT_DELETED"},
    SHELVED: {_DEFAULT: "SHELVED"},
    SHELVED_OFFLOADED: {_DEFAULT: "SHELVED_OFFLOADED"},
}


def status(vm_state: str, task_state: str | None) -> str:
    """The `status` the API shows for a (vm_state, task_state) pair."""
    table = _STATUS.get(vm_state)
    if table is None:
        return "UNKNOWN"
    return table.get(task_state, table[_DEFAULT])


def filter_states(status_name: str) -> tuple[list[str], list[str] | None] | None:
    """The vm_states (and task_states, when they matter) that show as `status_name`, the way
    Nova searches: task states count only when no default mapping matched.

    None when the status is unknown (the API answers 400 from 2.38 on).
    """
    upper = status_name.strip().upper()
    vm_states: set[str] = set()
    tasks: set[str | None] = set()
    for vm_state, table in _STATUS.items():
        for task, shown in table.items():
            if shown == upper:
                vm_states.add(vm_state)
                tasks.add(task)
    if not vm_states:
        return None
    if _DEFAULT in tasks:
        return sorted(vm_states), None
    return sorted(vm_states), sorted(t for t in tasks if t is not None)
