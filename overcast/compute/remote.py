"""Compute's handles on the other services: a REST client per service, built for one request's
token from the catalog. A service missing from the catalog gives None (network, volume) so that
boots with `networks: none`/`auto` work in a cloud without them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from overcast.clients.identity import IdentityClient
from overcast.clients.image import ImageClient
from overcast.clients.network import NetworkClient
from overcast.clients.volume import VolumeClient
from overcast.common import errors


class Remote:
    def __init__(
        self,
        endpoint: Callable[[str], str],
        service_token: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._service_token = service_token

    def _url(self, service_type: str, ctx: dict[str, Any]) -> str | None:
        try:
            url = self._endpoint(service_type)
        except errors.ServiceUnavailable:
            return None
        project = ctx.get("project_id") or ""
        return url.replace("%(project_id)s", project).replace("$(project_id)s", project)

    def has(self, service_type: str) -> bool:
        return self._url(service_type, {}) is not None

    def identity(self, ctx: dict[str, Any]) -> IdentityClient:
        url = self._url("identity", ctx)
        if url is None:
            raise errors.ServiceUnavailable("the identity service is not in the catalog")
        return IdentityClient(url, ctx.get("auth_token"))

    def image(self, ctx: dict[str, Any]) -> ImageClient:
        url = self._url("image", ctx)
        if url is None:
            raise errors.ServiceUnavailable("the image service is not in the catalog")
        return ImageClient(url, ctx.get("auth_token"))

    def network(self, ctx: dict[str, Any]) -> NetworkClient | None:
        url = self._url("network", ctx)
        return None if url is None else NetworkClient(url, ctx.get("auth_token"))

    async def _as_service(self, ctx: dict[str, Any]) -> str | None:
        """Compute's service token; without service credentials, the caller's token."""
        return await self._service_token() if self._service_token else ctx.get("auth_token")

    async def as_service(self, ctx: dict[str, Any]) -> dict[str, Any]:
        """`ctx` with compute's service token: what a restart finishes it does for no user."""
        return {**ctx, "auth_token": await self._as_service(ctx)}

    async def network_as_service(self, ctx: dict[str, Any]) -> NetworkClient | None:
        """The network service with compute's service credentials, for what only a service
        may do (bind a port to a host), as Nova's admin client does."""
        url = self._url("network", ctx)
        return None if url is None else NetworkClient(url, await self._as_service(ctx))

    async def image_as_service(self, ctx: dict[str, Any]) -> ImageClient:
        """The image service with compute's service credentials: for the clean-up after a
        restart, which acts for no user."""
        return ImageClient(self.image(ctx).endpoint, await self._as_service(ctx))

    def volume(self, ctx: dict[str, Any]) -> VolumeClient | None:
        url = self._url("volumev3", ctx) or self._url("block-storage", ctx)
        return None if url is None else VolumeClient(url, ctx.get("auth_token"))

    async def volume_as_service(self) -> VolumeClient | None:
        """The block storage service with compute's service credentials, at its URL without
        a project (what it holds for every project): for the clean-up after a restart."""
        url = self._url("volumev3", {}) or self._url("block-storage", {})
        return None if url is None else VolumeClient(url.rstrip("/"), await self._as_service({}))
