"""Remote consoles, as Nova's remote-consoles API and its console authorisation do them: a URL
for a server's VNC (noVNC) or serial console that carries a token; the token is kept (only its
SHA-256) in the database with an expiry, and the console proxy (`api.console_proxy`) consumes it
once to learn where the guest's console is. Called by the compute API's console routes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from sqlalchemy import delete, select

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.db.base import utcnow
from overcast.compute import server_actions
from overcast.compute.models.consoles import ConsoleAuthToken
from overcast.compute.state import ComputeState

# The console types this cloud serves, by protocol; the others Nova names answer 400 as Nova
# answers a type its deployment has not enabled.
TYPES = {"vnc": ("novnc",), "serial": ("serial",)}
# Where the proxy answers, under the compute API's mount point.
WEBSOCKET_PATHS = {"novnc": "/console/websockify", "serial": "/console/serial"}
NOVNC_PAGE = "/console/novnc/vnc_lite.html"


@dataclass(frozen=True)
class Target:
    """Where the proxy connects: a unix socket path, or a TCP host and port."""

    instance_uuid: str
    console_type: str
    host: str
    port: int
    path: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(
    st: ComputeState,
    ctx: RequestContext,
    uuid: str,
    protocol: str,
    console_type: str,
    base_url: str,
) -> str:
    """A console URL for the server `uuid` (which the caller may see); `base_url` is the
    compute API's public mount point. 400 for a type this cloud does not serve or one that
    does not go with `protocol`, 409 while the server has no guest."""
    if protocol not in TYPES:
        raise errors.BadRequest(f"Unavailable console type {console_type}.")
    if console_type not in TYPES[protocol]:
        raise errors.BadRequest(f"Invalid console type {console_type}")
    try:
        where = await server_actions.ask_agent(st, ctx, uuid, "get_console", protocol=protocol)
    except errors.NotSupported as exc:
        raise errors.BadRequest(f"Unavailable console type {console_type}.") from exc
    token = secrets.token_urlsafe(24)
    now = utcnow()
    async with st.db.session() as session:
        await session.execute(delete(ConsoleAuthToken).where(ConsoleAuthToken.expires < now))
        session.add(
            ConsoleAuthToken(
                token_hash=_hash(token),
                console_type=console_type,
                instance_uuid=uuid,
                host=str(where.get("host") or ""),
                port=int(where.get("port") or 0),
                internal_access_path=str(where.get("path") or ""),
                expires=now + dt.timedelta(seconds=st.settings.compute.console_token_ttl),
            )
        )
    return url(base_url, console_type, token)


def url(base_url: str, console_type: str, token: str) -> str:
    """noVNC's page with the websocket's path (relative to the host, as noVNC and Nova's
    novncproxy take it); for serial, the websocket itself."""
    parts = urlsplit(base_url)
    socket_path = parts.path.rstrip("/") + WEBSOCKET_PATHS[console_type]
    if console_type == "serial":
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{socket_path}?token={token}"
    relative = quote(f"{socket_path.lstrip('/')}?token={token}", safe="")
    return f"{base_url.rstrip('/')}{NOVNC_PAGE}?path={relative}"


async def _find(st: ComputeState, token: str) -> ConsoleAuthToken | None:
    async with st.db.reader() as session:
        row = (
            await session.execute(
                select(ConsoleAuthToken).where(ConsoleAuthToken.token_hash == _hash(token))
            )
        ).scalar_one_or_none()
    if row is None or row.expires <= utcnow():
        return None
    return row


def _target(row: ConsoleAuthToken) -> Target:
    return Target(row.instance_uuid, row.console_type, row.host, row.port, row.internal_access_path)


async def show(st: ComputeState, token: str) -> Target:
    """What a token opens, for admins; an unknown, used or expired token is 404."""
    row = await _find(st, token)
    if row is None:
        raise errors.NotFound("The token has expired or is invalid.")
    return _target(row)


async def consume(st: ComputeState, token: str, console_type: str) -> Target:
    """What a token opens, once: it is gone afterwards. errors.NotFound when it is unknown,
    used, expired or for another kind of console."""
    row = await _find(st, token)
    if row is None or row.console_type != console_type:
        raise errors.NotFound("The token has expired or is invalid.")
    async with st.db.session() as session:
        gone = await session.execute(delete(ConsoleAuthToken).where(ConsoleAuthToken.id == row.id))
    if getattr(gone, "rowcount", 0) != 1:  # another connection took it first
        raise errors.NotFound("The token has expired or is invalid.")
    return _target(row)
