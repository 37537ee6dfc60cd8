"""`overcast up`'s default image: build the guest image (cached) and make sure the image
service holds it as a public image named `compute.default_image`, through the identity and
image REST APIs as an operator would. Called once the server listens (`cli.cmd_up`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from overcast.clients.identity import IdentityClient
from overcast.clients.image import ImageClient
from overcast.common import errors, log
from overcast.common.config import Settings
from overcast.compute.guest import build

LOG = log.get(__name__)
KEY_PROPERTY = "overcast_guest_key"
# How compute boots it fastest under TCG (measured; see README and bench/boot.py).
PROPERTIES = {
    "hw_machine_type": "q35",
    "hw_disk_bus": "virtio",
    "hw_vif_model": "virtio",
    "os_type": "linux",
    "os_distro": "overcast-guest",
}


def image_dir(settings: Settings) -> Path:
    return settings.compute.guest_image_dir or settings.data_dir / "guest"


async def ensure_registered(settings: Settings, say: Callable[[str], None] = print) -> str:
    """The id of the active public image named `compute.default_image` built from the current
    guest image; uploads it when missing, and hides (not deletes) images of older builds."""
    name = settings.compute.default_image
    built = await asyncio.to_thread(build.ensure, image_dir(settings), False, say)
    password = (settings.data_dir / "admin-password").read_text().strip()
    identity = IdentityClient(settings.base_url + "/v3", None)
    token = await _when_listening(lambda: identity.password_token("admin", password, "admin"))
    images = ImageClient(token.endpoint("image"), token.id)
    current: str | None = None
    for image in await images.find(name=name, visibility="public"):
        if image.get(KEY_PROPERTY) == built.key and image["status"] == "active" and not current:
            current = image["id"]
        elif image.get(KEY_PROPERTY) == built.key:  # an upload that did not finish
            await images.delete(image["id"])
        elif image.get(KEY_PROPERTY) and not image.get("os_hidden"):
            await images.update(image["id"], {"os_hidden": True})
    if current is not None:
        say(f"the guest image is public image {name} ({current})")
        return current
    image = await images.create(**image_fields(name, built))
    await images.upload(image["id"], built.path)
    say(f"registered the guest image as public image {name} ({image['id']})")
    return str(image["id"])


async def _when_listening(call: Callable[[], Any], wait: float = 60.0) -> Any:
    """`call()` once the API answers (`up` starts listening after its services start)."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        try:
            return await call()
        except errors.ServiceUnavailable:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


def image_fields(name: str, built: build.Built) -> dict[str, Any]:
    """The guest image's record: how compute boots it, and which build it is."""
    return {
        "name": name,
        "visibility": "public",
        "disk_format": "qcow2",
        "container_format": "bare",
        "min_disk": 1,
        "min_ram": 64,
        **PROPERTIES,
        KEY_PROPERTY: built.key,
        "overcast_guest_kernel": built.kernel,
        "description": "Overcast's guest: Debian kernel, busybox, dropbear, CirrOS-like init",
    }


async def register_in_background(settings: Settings) -> None:
    """`ensure_registered`, logging instead of raising: a cloud without its default image
    still serves everything else."""
    try:
        await ensure_registered(settings)
    except Exception as exc:  # noqa: BLE001 - reported, never fatal to `up`
        LOG.error("the default guest image was not registered", exc_info=exc)
        print(f"the default guest image was not registered: {exc}", flush=True)
