"""The registry of volume actions (`POST /v3/volumes/{id}/action`) that the action modules
fill (`volume_actions`, `attach_actions`, `move_actions`): handlers run inside the request's
transaction on the volume's row; what must reach an agent or the scheduler is recorded with
`later`/`schedule` and sent by `after_commit`. `OUTSIDE` holds the few actions that talk to
an agent and wait for its answer, so they run outside any transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.volume import rpc
from overcast.volume.api.deps import Req
from overcast.volume.models.volumes import Volume

# A handler returns a body (200) or None (202).
Handler = Callable[[Req, AsyncSession, Volume, Any], Awaitable[Any]]
Outside = Callable[[Req, str, Any], Awaitable[dict[str, Any] | None]]
ACTIONS: dict[str, Handler] = {}
OUTSIDE: dict[str, Outside] = {}
_AFTER = "_after"
_SCHEDULE = "_migrations"


def action(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        ACTIONS[name] = fn
        return fn

    return register


def outside(name: str) -> Callable[[Outside], Outside]:
    def register(fn: Outside) -> Outside:
        OUTSIDE[name] = fn
        return fn

    return register


def as_object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.BadRequest(
            f"Invalid input for field/attribute {name}. Value: {value}. {value!r} is not of"
            " type 'object'"
        )
    return value


def later(r: Req, method: str, volume: Volume, **kwargs: Any) -> None:
    """Cast `method` to the volume's agent once the transaction has committed."""
    r.request.state.__dict__.setdefault(_AFTER, []).append((volume.backend, method, kwargs))


def schedule(r: Req, volume: Volume) -> None:
    """Hand the volume's migration to the scheduler once the transaction has committed."""
    r.request.state.__dict__.setdefault(_SCHEDULE, []).append(volume.id)


async def after_commit(r: Req, volume_id: str) -> None:
    for backend, method, kwargs in r.request.state.__dict__.get(_AFTER, []):
        if backend:
            await rpc.cast_agent(
                r.state.bus, backend, method, r.bus_ctx, volume_id=volume_id, **kwargs
            )
    for moving in r.request.state.__dict__.get(_SCHEDULE, []):
        await rpc.schedule_migration(r.state.bus, r.bus_ctx, moving)
