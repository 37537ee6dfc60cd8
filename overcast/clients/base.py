"""The HTTP plumbing every client shares: one pooled httpx client per event loop, the token
header, the signed trace headers of the current span (common/trace), and the mapping of HTTP error statuses to Overcast's errors (the one boundary where
foreign errors become ours)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from overcast.common import errors
from overcast.common.listener import CLIENT_KEEP_ALIVE
from overcast.common.trace import propagate

_POOLS: dict[int, httpx.AsyncClient] = {}
_BY_STATUS: dict[int, type[errors.OvercastError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    409: errors.Conflict,
    413: errors.OverQuota,
    415: errors.UnsupportedMediaType,
    429: errors.TooManyRequests,
    501: errors.NotSupported,
    503: errors.ServiceUnavailable,
    504: errors.Timeout,
}


def pool() -> httpx.AsyncClient:
    """The shared connection pool of the running event loop."""
    key = id(asyncio.get_running_loop())
    found = _POOLS.get(key)
    if found is None or found.is_closed:
        found = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=10.0),
            limits=httpx.Limits(
                max_connections=100,
                max_keepalive_connections=50,
                keepalive_expiry=CLIENT_KEEP_ALIVE,
            ),
        )
        _POOLS[key] = found
    return found


async def close() -> None:
    """Close the pool of the running loop (service shutdown)."""
    found = _POOLS.pop(id(asyncio.get_running_loop()), None)
    if found is not None:
        await found.aclose()


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = response.text.strip()
        return text[:500] or response.reason_phrase
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, dict) and "message" in value:
                return str(value["message"])
        for key in ("message", "detail", "NeutronError"):
            if key in body:
                return str(body[key])
    return str(body)[:500]


class RestClient:
    """A client for one service endpoint, acting with one token."""

    service = "service"

    def __init__(
        self,
        endpoint: str,
        token: str | None,
        headers: dict[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
    ):
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.headers = dict(headers or {})
        self.http = http  # None: the loop's shared pool

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            **self.headers,
            **(extra or {}),
            **propagate.outgoing(),
        }
        if self.token:
            headers["X-Auth-Token"] = self.token
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        # A kept-alive connection the server closed as it was reused fails before anything was
        # sent; an idempotent request is sent once more on a new one.
        attempts = 2 if method in ("GET", "HEAD", "PUT", "DELETE") and content is None else 1
        try:
            for attempt in range(attempts):
                try:
                    response = await (self.http or pool()).request(
                        method,
                        self.endpoint + path,
                        json=json_body,
                        content=content,
                        params=params,
                        headers=self._headers(headers),
                    )
                    break
                except httpx.RemoteProtocolError:
                    if attempt == attempts - 1:
                        raise
        except httpx.TimeoutException as exc:
            raise errors.Timeout(f"{self.service} did not answer: {exc}") from exc
        except httpx.HTTPError as exc:
            raise errors.ServiceUnavailable(f"{self.service} is unreachable: {exc}") from exc
        self.raise_for_status(response)
        return response

    async def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """A request with a JSON body (or none) whose JSON answer is returned ({} when it
        has none): for the proxy APIs, which pass resources through nearly as they are."""
        response = await self.request(method, path, json_body=body, params=params or None)
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    def raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        cls = _BY_STATUS.get(response.status_code, errors.RemoteError)
        raise cls(f"{self.service}: {_message(response)}")

    async def stream(
        self, path: str, chunk_size: int | None = 1 << 20, headers: dict[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        """GET `path` and yield its body in chunks of `chunk_size` (None: as they arrive,
        for event streams)."""
        try:
            async with pool().stream(
                "GET", self.endpoint + path, headers=self._headers(headers)
            ) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    self.raise_for_status(resp)
                async for chunk in resp.aiter_bytes(chunk_size):
                    yield chunk
        except httpx.HTTPError as exc:
            raise errors.ServiceUnavailable(f"{self.service} is unreachable: {exc}") from exc
