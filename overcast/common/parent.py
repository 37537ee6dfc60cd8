"""A child process that ends with its parent (Linux's PR_SET_PDEATHSIG): a parent killed with
SIGKILL cannot stop its children itself, and one left behind would go on serving (or running a
guest) for nobody."""

from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1


def end_with_parent(sig: signal.Signals, parent: int | None = None) -> None:
    """Have the kernel send `sig` to this process when its parent dies. With `parent` (its pid
    before the fork), a parent that died before this call counts as well."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)
