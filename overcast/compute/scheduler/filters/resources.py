"""ResourceFilter: the host has the flavor's vCPUs, RAM and disk free, after allocation ratios.

Boot from volume needs no root disk on the host (only ephemeral and swap).
"""

from __future__ import annotations

from typing import Any

from overcast.compute.scheduler.filters import BaseFilter, RequestSpec
from overcast.compute.scheduler.host_state import HostState


def requested(flavor: dict[str, Any], is_bfv: bool = False) -> dict[str, int]:
    """The resources one instance of `flavor` claims."""
    swap_gb = (int(flavor.get("swap") or 0) + 1023) // 1024
    root = 0 if is_bfv else int(flavor.get("root_gb") or 0)
    return {
        "vcpus": int(flavor.get("vcpus") or 0),
        "memory_mb": int(flavor.get("memory_mb") or 0),
        "disk_gb": root + int(flavor.get("ephemeral_gb") or 0) + swap_gb,
    }


class ResourceFilter(BaseFilter):
    def explain(self, refused: list[HostState], spec: RequestSpec) -> str:
        need = requested(spec.get("flavor") or {}, bool(spec.get("is_bfv")))
        short = []
        for label, key, free in (
            ("vCPUs", "vcpus", "free_vcpus"),
            ("MB of RAM", "memory_mb", "free_ram_mb"),
            ("GB of disk", "disk_gb", "free_disk_gb"),
        ):
            most = max(getattr(h, free) for h in refused)
            if most < need[key]:
                short.append(f"{need[key]} {label} (at most {most:g} free on a host)")
        if not short:
            return "no single host has all of the flavor's vCPUs, RAM and disk free at once."
        return "the flavor needs " + ", ".join(short) + "; choose a smaller flavor."

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        need = requested(spec.get("flavor") or {}, bool(spec.get("is_bfv")))
        return (
            host_state.free_vcpus >= need["vcpus"]
            and host_state.free_ram_mb >= need["memory_mb"]
            and host_state.free_disk_gb >= need["disk_gb"]
        )
