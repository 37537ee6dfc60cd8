"""In-process stand-ins for the compute unit tests: a fake image service behind `Remote`, and
a compute cloud (database, bus, scheduler, conductor, agents) without HTTP."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from overcast.common import errors
from overcast.common.bus.local import LocalBus
from overcast.common.config import Settings
from overcast.common.context import RequestContext
from overcast.common.db import migrate
from overcast.common.db.session import Database
from overcast.common.http.policy import Policy
from overcast.compute import flavors, policies
from overcast.compute.remote import Remote
from overcast.compute.service import ComputeService
from overcast.compute.state import ComputeState
from overcast.compute.units import Units


class FakeImages:
    def __init__(self) -> None:
        self.images: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}

    def add(self, **fields: Any) -> dict[str, Any]:
        image = {
            "id": str(uuid.uuid4()),
            "status": "active",
            "min_disk": 0,
            "min_ram": 0,
            "size": 1024,
            "disk_format": "qcow2",
            "container_format": "bare",
            **fields,
        }
        self.images[image["id"]] = image
        return image

    async def get(self, image_id: str) -> dict[str, Any]:
        if image_id not in self.images:
            raise errors.NotFound(f"image: No image found with ID {image_id}")
        return dict(self.images[image_id])

    async def create(self, **fields: Any) -> dict[str, Any]:
        return self.add(status="queued", **fields)

    async def update(self, image_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        self.images[image_id].update(changes)
        return dict(self.images[image_id])

    async def upload(self, image_id: str, path: Path) -> None:
        self.uploads[image_id] = await asyncio.to_thread(path.read_bytes)
        self.images[image_id]["status"] = "active"

    async def delete(self, image_id: str) -> None:
        self.images.pop(image_id, None)


class FakeRemote(Remote):
    def __init__(self, images: FakeImages) -> None:
        super().__init__(
            lambda service: (
                (_ for _ in ()).throw(errors.ServiceUnavailable(f"no {service}"))
                if service != "image"
                else "http://x"
            )
        )
        self.images = images

    def image(self, ctx: dict[str, Any]) -> Any:
        return self.images


class Cloud:
    def __init__(self, tmp: Path, **compute: Any) -> None:
        settings = Settings(
            data_dir=tmp,
            compute={"report_interval": 3600, "sync_power_state_interval": 3600, **compute},
        )
        self.settings = settings
        self.raw_db = Database(f"sqlite+aiosqlite:///{tmp / 'compute.db'}")
        self.db = self.raw_db.serialised()
        self.bus = LocalBus()
        self.images = FakeImages()
        self.remote = FakeRemote(self.images)
        self.state = ComputeState(
            settings,
            self.db,
            self.bus,
            Policy("compute", policies.all_rules(), tmp / "policy"),
            self.remote,
        )
        self.units = Units(settings, self.db, self.bus, self.remote)
        self.image = self.images.add(name="cirros")

    async def start(self) -> Cloud:
        await migrate.upgrade(self.db, "compute", ComputeService.migrations)
        async with self.db.session() as session:
            await flavors.seed(session)
        await self.units.start()
        return self

    async def stop(self) -> None:
        await self.bus.drain()
        await self.units.stop()
        await self.bus.close()
        await self.raw_db.close()


def context(project: str = "p1", user: str = "u1", admin: bool = False) -> RequestContext:
    roles = ("admin", "member", "reader") if admin else ("member", "reader")
    return RequestContext(
        user_id=user,
        project_id=project,
        roles=roles,
        request_id=f"req-{uuid.uuid4()}",
        auth_token="t",
    )
