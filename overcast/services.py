"""The registry of services: what `overcast up` runs, in start order (identity first)."""

from __future__ import annotations

from overcast.common.service import Service


def all_services() -> list[Service]:
    from overcast.identity.service import IdentityService

    found: list[Service] = [IdentityService()]
    # Each service adds itself here: one import and one line.
    from overcast.image.service import ImageService

    found.append(ImageService())
    from overcast.compute.service import ComputeService

    found.append(ComputeService())
    from overcast.object_store.service import ObjectStoreService

    found.append(ObjectStoreService())
    from overcast.volume.service import VolumeService

    found.append(VolumeService())

    from overcast.network.service import NetworkService

    found.append(NetworkService())
    from overcast.dashboard.service import DashboardService

    found.append(DashboardService())
    return found
