"""Image data from a URL, for web-download imports and legacy import tasks.

Only what Glance's import filtering lets through is fetched: the settings' schemes, hosts and
ports (an allowed-list wins over its disallowed-list; an empty list allows all), a host that is
a plain IP address or a name that resolves (so that encoded addresses such as 0x7f000001 or
127.1 cannot pass as names), and the same checks again on every redirect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from overcast.common import errors
from overcast.common.config import ImageSettings

MAX_REDIRECTS = 5


def _listed(value: Any, allowed: list[Any], disallowed: list[Any]) -> bool:
    if allowed:
        return value in allowed
    return value not in disallowed


async def _host(host: str | None) -> str | None:
    """The host as an address in standard form, or the name if it resolves; None otherwise."""
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if all(c.isdigit() or c == "." for c in host):
        return None  # a shorthand or decimal address that ip_address refused
    try:  # the trailing dot asks DNS, never the resolver's numeric parsing
        await asyncio.to_thread(socket.getaddrinfo, host.rstrip(".") + ".", 80)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return host


async def allowed(cfg: ImageSettings, uri: str) -> bool:
    """Whether the import filter lets `uri` through."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if not scheme or not _listed(scheme, cfg.import_allowed_schemes, []):
        return False
    if port is not None and not _listed(
        port, cfg.import_allowed_ports, cfg.import_disallowed_ports
    ):
        return False
    host = await _host(parts.hostname)
    return host is not None and _listed(host, cfg.import_allowed_hosts, cfg.import_disallowed_hosts)


async def check(cfg: ImageSettings, uri: Any, purpose: str) -> str:
    """`uri` if it is a URL the filter lets through; errors.BadRequest otherwise."""
    if not isinstance(uri, str) or not uri.strip():
        raise errors.BadRequest(f"A URI is required for {purpose}.")
    if not uri.lower().startswith(("http://", "https://")):
        raise errors.BadRequest(f"The URI for {purpose} must be an http or https URL, not {uri!r}.")
    if not await allowed(cfg, uri):
        raise errors.BadRequest(f"URI for {purpose} does not pass filtering: {uri}")
    return uri


async def stream(cfg: ImageSettings, uri: str) -> AsyncIterator[bytes]:
    """The body at `uri` (already checked), following filtered redirects.

    Raises errors.BadRequest when the server cannot be reached or does not answer 200."""
    timeout = httpx.Timeout(cfg.import_fetch_timeout)
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                async with client.stream("GET", uri) as response:
                    if response.is_redirect:
                        target = urljoin(uri, response.headers.get("location", ""))
                        if not await allowed(cfg, target):
                            raise errors.BadRequest(f"Redirect to a disallowed URL: {target}")
                        uri = target
                        continue
                    if response.status_code != 200:
                        raise errors.BadRequest(
                            f"{uri} answered {response.status_code} {response.reason_phrase}."
                        )
                    async for chunk in response.aiter_bytes():
                        yield chunk
                    return
    except httpx.HTTPError as exc:
        raise errors.BadRequest(f"Could not fetch {uri}: {exc}") from exc
    raise errors.BadRequest(f"{uri}: more than {MAX_REDIRECTS} redirects.")
