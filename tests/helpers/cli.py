"""The `openstack` command run in the test's own process: the same entry point the command's
script calls (`openstackclient.shell.main`), with its own arguments, clouds.yaml, input and
captured output, but without a new interpreter importing the client's hundreds of modules
again (about 1.1 s of CPU a call as a process, 0.03 s here).

One call at a time in a process: the command reads its settings from the environment and
writes to the standard streams, which are the process's.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

from openstackclient import shell
from osc_lib import clientmanager

# A request that gets no answer fails after this long; a whole call (`server create --wait`
# polls without end) is stopped after WHOLE_CALL seconds, as the process was.
API_TIMEOUT = "120"
WHOLE_CALL = 300.0

_turn = threading.Lock()


@contextlib.contextmanager
def _environment(clouds_yaml: Path) -> Iterator[None]:
    """Only this clouds.yaml and the request timeout, as the command's process would see them."""
    saved = {k: os.environ.pop(k) for k in [k for k in os.environ if k.startswith("OS_")]}
    os.environ.update({"OS_CLIENT_CONFIG_FILE": str(clouds_yaml), "OS_API_TIMEOUT": API_TIMEOUT})
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith("OS_")]:
            del os.environ[key]
        os.environ.update(saved)


@contextlib.contextmanager
def _streams(stdin: str, stdout: io.StringIO, stderr: io.StringIO) -> Iterator[None]:
    """The command's streams, and the logging it sets up for itself taken down after it
    (it adds a handler to the root logger and sets it to DEBUG)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    saved_stdin, sys.stdin = sys.stdin, io.StringIO(stdin)
    root.handlers[:] = []
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            yield
    finally:
        sys.stdin = saved_stdin
        root.handlers[:] = handlers
        root.setLevel(level)


class CallTimeout(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt the call after `seconds` (by SIGALRM: only the main thread can take it, so
    a call from another thread runs without one)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise CallTimeout(f"the openstack command took more than {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _forget_clients() -> None:
    """The command keeps each service's client on its client manager's class (once a process,
    for a command that runs once): a call must not reach the service as the previous one's user."""
    for attribute in vars(clientmanager.ClientManager).values():
        if isinstance(attribute, clientmanager.ClientCache):
            attribute._handle = None


def openstack(
    args: list[str], clouds_yaml: Path, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `openstack ARGS`; its exit status and output as a finished process would give them."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with _turn, warnings.catch_warnings(), _environment(clouds_yaml):
        warnings.simplefilter("ignore")  # the command's own deprecations are not the test's
        _forget_clients()
        with _streams(input or "", stdout, stderr), _deadline(WHOLE_CALL):
            try:
                code = shell.main(list(args))
            except SystemExit as exc:  # argparse's refusals and --help
                code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(
        ["openstack", *args], code, stdout.getvalue(), stderr.getvalue()
    )
