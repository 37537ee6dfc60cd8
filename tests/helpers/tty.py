"""Run the `openstack` command on a pseudo-terminal, answering its password prompts.

openstackclient reads `--password-prompt` answers with getpass, which insists on a terminal;
this gives it one, as a person at a shell would.
"""

from __future__ import annotations

import os
import pty
import select
import time

from tests.helpers.server import OPENSTACK, Server


def cli_tty(
    server: Server, *args: str, answers: list[str], cloud: str = "overcast", timeout: float = 60
) -> tuple[int, str]:
    """Run `openstack --os-cloud <cloud> <args>`; answer each "Password:" prompt in turn.
    Returns the exit code and everything the command wrote."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(server.clouds_yaml)
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the command
        os.execve(OPENSTACK, [OPENSTACK, "--os-cloud", cloud, *args], env)
    output, answered = b"", 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the command closed the terminal: it is done
                break
            if not chunk:
                break
            output += chunk
            if answered < len(answers) and output.count(b"Password:") > answered:
                os.write(fd, answers[answered].encode() + b"\n")
                answered += 1
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")
