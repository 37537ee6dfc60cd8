"""Start the tests' `overcast up` processes from a process that has imported Overcast once.

A fork server, as multiprocessing's forkserver is: one launcher process per test process
imports Overcast, its services and their libraries, then forks a child for each server a test
starts, which runs `overcast.cli.main` with the test's arguments, environment and log file, as
`python -m overcast.cli` would. A new interpreter spent about 2.5 s of CPU importing all that
again for every server the suite starts; a fork shares it.

`launch()` answers with a `Launched`, the part of `subprocess.Popen` the tests use (pid, poll,
wait, send_signal, kill, returncode); the launcher is the child's parent and reaps it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[2]


class Launcher:
    """The test process's side: requests and answers as JSON lines over the launcher's pipes."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.launcher"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
        )
        self._turn = threading.Lock()

    def ask(self, **request: Any) -> Any:
        assert self._process.stdin is not None and self._process.stdout is not None
        with self._turn:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            answer = self._process.stdout.readline()
        if not answer:
            raise RuntimeError("the test launcher has exited")
        return json.loads(answer)


class Launched:
    """A child of the launcher, watched through a pidfd (it is not this process's child)."""

    def __init__(self, launcher: Launcher, pid: int) -> None:
        self.launcher = launcher
        self.pid = pid
        self.returncode: int | None = None
        self._ended = os.pidfd_open(pid)

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._ended], [], [], 0)[0]:
            self.returncode = self.launcher.ask(op="reap", pid=self.pid)["code"]
            os.close(self._ended)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not select.select([self._ended], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired(f"overcast (pid {self.pid})", timeout or 0)
        code = self.poll()
        assert code is not None
        return code

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


_launcher: Launcher | None = None
_starting = threading.Lock()


def launch(argv: list[str], env: dict[str, str], log: Path) -> Launched:
    """Run `overcast ARGV` with exactly `env`, its output appended to `log`."""
    global _launcher
    with _starting:
        if _launcher is None:
            _launcher = Launcher()
    pid = _launcher.ask(op="start", argv=argv, env=env, log=str(log), cwd=os.getcwd())["pid"]
    return Launched(_launcher, pid)


def _run_child(request: dict[str, Any]) -> None:
    """In the forked child: become `overcast ARGV` as a new process of its own would be."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 1024)  # the launcher's pipes
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = [sys.argv[0], *request["argv"]]
        from overcast import cli

        code = cli.main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _serve(requests: TextIO, answers: TextIO) -> None:
    from overcast import cli, services  # noqa: F401  (what every child would import)

    services.all_services()
    for line in requests:
        request = json.loads(line)
        if request["op"] == "start":
            pid = os.fork()
            if pid == 0:
                _run_child(request)
            answer: dict[str, Any] = {"pid": pid}
        else:  # "reap": the child has ended (its pidfd said so)
            _, status = os.waitpid(request["pid"], 0)
            answer = {"code": os.waitstatus_to_exitcode(status)}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    # Answers go out on a copy of stdout; what the launcher itself prints goes to stderr.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    _serve(sys.stdin, answers)
