"""The README's quick start, word for word: its marked shell blocks, extracted from README.md
so they cannot drift, run in one fresh bash (PATH without the venv, HOME of its own) against a
cloud started as `make up` starts it, with the default image; and its links lead somewhere."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.compute.guest.conftest import GUEST_DIR
from tests.helpers.server import Server, free_port

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MARKER = "<!-- tested: tests/ops/test_readme.py"
BLOCK = re.compile(r"^([ \t]*)```sh\n(.*?)^\1```", re.S | re.M)


def marked_blocks(text: str) -> list[str]:
    """The ```sh blocks that follow a MARKER line, dedented, in README order."""
    blocks = []
    for marked in text.split(MARKER)[1:]:
        after = marked.split("\n", 1)[1]
        match = BLOCK.match(after)
        assert match, "a tested marker must be followed at once by a ```sh block"
        blocks.append(textwrap.dedent(match.group(2)))
    return blocks


def test_quick_start_word_for_word(tmp_path: Path) -> None:
    blocks = marked_blocks(README.read_text())
    assert len(blocks) == 3 and blocks[0].startswith(". .venv/bin/activate")
    home = tmp_path / "home"
    data_dir = home / ".local" / "share" / "overcast"  # `make up`'s default data dir
    env = {
        "HOME": str(home),
        "OVERCAST_COMPUTE__DEFAULT_IMAGE": "overcast-guest",
        "OVERCAST_COMPUTE__GUEST_IMAGE_DIR": str(GUEST_DIR),  # built once for all tests
    }
    srv = Server(data_dir, port=free_port(), env=env)
    try:
        srv.start(timeout=600)
        shell = tmp_path / "checkout"
        shell.mkdir()
        (shell / ".venv").symlink_to(sys.prefix)  # the checkout's venv, as `make` made it
        fresh = {
            "HOME": str(home),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TERM": "dumb",
        }
        script = "set -e -x\n" + "\n".join(blocks)
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=shell,
            env=fresh,
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
        out = done.stdout
        assert done.returncode == 0, done.stderr[-4000:]
        assert f"overcast is ready at {srv.url}" in out
        assert "overcast-guest" in out and "vm1" in out and "vm2" in out
        assert "login:" in out or "login banner" in out  # the guest's console
    finally:
        srv.stop()


def test_links_lead_somewhere() -> None:
    text = README.read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" not in target:
            assert (REPO / target).exists(), f"README links to missing {target}"
    assert "../shared" not in text and "--password-prompt" not in text
