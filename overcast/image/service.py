"""The image service (Glance v2) mounted at /image; catalog type `image`, name `glance`.

On start it reconciles what a crash may have left: uploads this host was receiving go back to
`queued`, imports it was running go back to `uploading` (the staged data is still there), and
the stores drop their half-written files, and the tasks it was running fail.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select

from overcast.common import log
from overcast.common.http import faults
from overcast.common.http.policy import Policy
from overcast.common.service import Runtime, Service, api_app
from overcast.image import images, models, policies, quota, tasks
from overcast.image.api import ROUTERS
from overcast.image.state import ImageState
from overcast.image.stores import Stores

LOG = log.get(__name__)
PREFIX = "/image"


def _public(method: str, path: str) -> bool:
    """Version discovery needs no token."""
    return method == "GET" and path.rstrip("/") in (PREFIX, f"{PREFIX}/versions")


def _streams(method: str, path: str) -> bool:
    """Image data (`PUT /v2/images/{id}/file` and `/stage`) flows to its store as it arrives;
    every other body is held to the JSON limit."""
    return (
        method == "PUT"
        and path.startswith(f"{PREFIX}/v2/images/")
        and path.endswith(("/file", "/stage"))
    )


class ImageService(Service):
    name = "image"
    catalog_type = "image"
    catalog_name = "glance"
    prefix = PREFIX
    migrations = Path(__file__).parent / "migrations"

    def __init__(self) -> None:
        self.state: ImageState | None = None

    def build(self, runtime: Runtime) -> FastAPI:
        settings = runtime.settings
        app = api_app(
            runtime,
            title="Overcast Image (Glance v2)",
            render=faults.glance,
            public=_public,
            streams=_streams,
        )
        self.state = ImageState(
            settings=settings,
            db=runtime.db,
            policy=Policy("image", policies.DEFAULTS, settings.policy_dir),
            stores=Stores.from_settings(settings),
            endpoint=self.endpoint_url(settings.base_url),
        )
        app.state.image = self.state
        for router in ROUTERS():
            app.include_router(router)
        return app

    async def start(self, runtime: Runtime) -> None:
        assert self.state is not None
        await recover(self.state)

    async def stop(self) -> None:
        if self.state is None:
            return
        tasks = list(self.state.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def recover(st: ImageState) -> None:
    """Put back what this host was doing when it stopped (see the module docstring)."""
    for store in [*st.stores.all(), st.stores.staging]:
        await store.cleanup()
    async with st.db.session() as session:
        rows = await session.execute(
            select(models.Image).where(
                models.Image.busy_host == st.host, models.Image.deleted.is_(False)
            )
        )
        for image in rows.scalars():
            staged = await asyncio.to_thread((st.stores.staging.root / image.id).exists)
            if image.status == "importing" and staged:
                image.status = "uploading"
            elif image.status in ("saving", "uploading", "importing"):
                if image.owner and image.charged_bytes and image.status != "saving":
                    await quota.release(session, image.owner, nbytes=image.charged_bytes)
                    image.charged_bytes = 0
                if image.status != "saving":
                    await st.stores.staging.delete(images.staging_url(st, image.id))
                image.status = "queued"
            LOG.info(
                "recovered image", extra={"fields": {"image": image.id, "status": image.status}}
            )
            image.busy_host = None
    await tasks.recover(st)
