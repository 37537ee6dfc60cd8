"""The user's cloud as a page sees it: each service's REST API with the session's token, at
the URL the catalog gives, with the newest microversion the dashboard speaks.

A page reads what it needs in one `batch`: its GETs go out together as one internal call.
When this process serves those APIs (as `overcast up` does) the batch is answered in memory
by the APIs' own apps (`common/http/inprocess.py`): the same token check, routes and
policies as any client's request, so a page shows nothing its user could not read. GETs to
APIs served elsewhere go over HTTP, one call each. `calls` counts the calls (a batch answered
in memory is one), `requests` the REST requests inside them; both are sent back
(`X-Dashboard-Api-Calls`, `X-Dashboard-Api-Requests`) for the benchmark.

Pages call `batch`, `get`, `post`, `put`, `patch`, `delete`; errors arrive as
`overcast.common.errors` from `overcast.clients.base`, the one place HTTP statuses become
errors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from overcast.clients.base import RestClient
from overcast.common import errors
from overcast.common.http.inprocess import InProcess

# The microversions the pages are written against (the newest each service has).
MICROVERSIONS = {
    "compute": "compute 2.96",
    "block-storage": "volume 3.71",
}


# What an optional GET may meet and the page still be drawn without it: a service that is
# absent, refuses this user, or lacks the path.
_DO_WITHOUT = (errors.ServiceUnavailable, errors.Forbidden, errors.NotFound, errors.NotSupported)


@dataclass(frozen=True)
class Get:
    """One GET of a batch; an `optional` one is None when its service cannot answer it."""

    service: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    optional: bool = False


class Cloud:
    def __init__(
        self,
        endpoint: Callable[[str], str],
        token: str,
        project_id: str,
        local: InProcess | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._local = local
        self.token = token
        self.project_id = project_id
        self.calls = 0
        self.requests = 0

    def url(self, service: str) -> str:
        """The catalog URL of `service` for this project."""
        url = self._endpoint(service)
        return url.replace("%(project_id)s", self.project_id).replace(
            "$(project_id)s", self.project_id
        )

    def client(self, service: str, in_memory: bool = False) -> RestClient:
        headers = {}
        if service in MICROVERSIONS:
            headers["OpenStack-API-Version"] = MICROVERSIONS[service]
        url = self.url(service)
        http = self._local.client() if in_memory and self._in_memory(url) else None
        client = RestClient(url, self.token, headers, http)
        client.service = service
        return client

    def _in_memory(self, url: str) -> bool:
        return self._local is not None and self._local.serves(url)

    def _served_here(self, service: str) -> bool:
        try:
            return self._in_memory(self.url(service))
        except errors.ServiceUnavailable:  # not in the catalog: its GET fails in the batch
            return False

    async def batch(self, *gets: Get) -> list[Any]:
        """The JSON bodies of `gets`, read concurrently as one internal call (see above); the
        first refusal of a GET that is not optional is raised."""
        local = sum(1 for g in gets if self._served_here(g.service))
        self.calls += (1 if local else 0) + len(gets) - local
        self.requests += len(gets)
        answers = await asyncio.gather(*(self._read(g) for g in gets), return_exceptions=True)
        found: list[Any] = []
        for get, answer in zip(gets, answers, strict=True):
            if isinstance(answer, _DO_WITHOUT) and get.optional:
                answer = None
            elif isinstance(answer, BaseException):
                raise answer
            found.append(answer)
        return found

    async def _read(self, get: Get) -> Any:
        clean = {k: v for k, v in get.params.items() if v not in (None, "")}
        client = self.client(get.service, in_memory=True)
        return (await client.request("GET", get.path, params=clean)).json()

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        content: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        self.calls += 1
        self.requests += 1
        return await self.client(service).request(
            method, path, json_body=body, params=params, content=content, headers=headers
        )

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return (await self.batch(Get(service, path, params)))[0]

    async def post(
        self, service: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        response = await self.call("POST", service, path, body=body, headers=headers)
        return _json(response)

    async def put(self, service: str, path: str, body: Any = None) -> Any:
        return _json(await self.call("PUT", service, path, body=body))

    async def patch(self, service: str, path: str, ops: list[dict[str, Any]]) -> Any:
        headers = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
        response = await self.call(
            "PATCH", service, path, content=json.dumps(ops).encode(), headers=headers
        )
        return _json(response)

    async def delete(self, service: str, path: str) -> None:
        await self.call("DELETE", service, path)

    async def stream(
        self, service: str, path: str, live: bool = False, headers: dict[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        """The body of a GET as it arrives (`live`: each chunk at once, for event streams)."""
        self.calls += 1
        self.requests += 1
        chunk_size = None if live else 1 << 20
        async for chunk in self.client(service).stream(path, chunk_size, headers):
            yield chunk


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return {}
