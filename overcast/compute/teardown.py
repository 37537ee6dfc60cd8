"""What a deleted server gives back to the other services: its ports (deleted, or unbound when
the user brought them), its volumes (detached; deleted when delete_on_termination) and a
shelved server's snapshot image. The host's agent calls `release` when it terminates a guest;
the API calls it when it deletes a server that has no live host (Nova's local delete), such as
a shelved-offloaded one."""

from __future__ import annotations

from typing import Any

from overcast.common import errors, log
from overcast.compute import networking, volumes
from overcast.compute.remote import Remote

LOG = log.get(__name__)


async def release(
    remote: Remote,
    ctx: dict[str, Any],
    network_info: list[dict[str, Any]],
    attachments: list[dict[str, Any]],
    system_metadata: dict[str, Any],
) -> None:
    await networking.deallocate(remote, ctx, network_info)
    await volumes.detach_all(remote, ctx, attachments)
    image_id = system_metadata.get("shelved_image_id")
    if image_id:
        try:
            await remote.image(ctx).delete(image_id)
        except errors.NotFound:
            pass
        except errors.OvercastError as exc:
            LOG.warning(
                "shelved image left behind",
                extra={"fields": {"image": image_id, "error": str(exc)}},
            )
