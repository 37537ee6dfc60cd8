"""ImagePropertiesFilter: the image's architecture, hypervisor type and VM mode (when it names
them) must be what the host offers."""

from __future__ import annotations

from overcast.compute.scheduler.filters import BaseFilter, RequestSpec
from overcast.compute.scheduler.host_state import HostState

_ALIASES = {
    "x86_64": {"x86_64", "amd64", "x64"},
    "i686": {"i686", "i386", "x86"},
    "aarch64": {"aarch64", "arm64"},
}


def _same_arch(wanted: str, offered: str) -> bool:
    wanted, offered = wanted.lower(), offered.lower()
    return (
        wanted == offered
        or offered in _ALIASES.get(wanted, set())
        or wanted in _ALIASES.get(offered, set())
    )


class ImagePropertiesFilter(BaseFilter):
    run_filter_once_per_request = True

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        props = (spec.get("image") or {}).get("properties") or {}
        caps = host_state.capabilities
        arch = props.get("hw_architecture") or props.get("architecture")
        if arch and caps.get("cpu_arch") and not _same_arch(str(arch), str(caps["cpu_arch"])):
            return False
        hv_type = props.get("img_hv_type") or props.get("hypervisor_type")
        if hv_type and str(hv_type).lower() not in (
            host_state.hypervisor_type.lower(),
            "qemu" if host_state.hypervisor_type == "kvm" else "",
        ):
            return False
        mode = props.get("hw_vm_mode") or props.get("vm_mode")
        supported = caps.get("vm_modes")
        return not (mode and supported and str(mode) not in supported)
