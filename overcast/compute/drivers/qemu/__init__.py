"""The qemu compute driver, in small modules: `driver` (the contract), `guest` (one running
guest), `build` (a guest's files from an instance spec), `launch` (QEMU's command line),
`process` (detached QEMU processes), `qmp` (the monitor), `disks` and `inspector` (images
and qcow2 overlays), `configdrive` (the config-2 ISO), `files` (where things live) and
`hostinfo` (what the host offers, the KVM probe).
"""

from __future__ import annotations

from overcast.compute.drivers.qemu.driver import QemuDriver

__all__ = ["QemuDriver"]
