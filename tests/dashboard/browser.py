"""Playwright driving Debian's Chromium (headless) for the browser suite: one browser per test
module, a fresh context (cookies) per user, screenshots of the main pages kept under
$OVERCAST_ARTIFACTS (default tests/artifacts/dashboard), and every page's console watched so
that a script the CSP blocks fails the test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api

CHROMIUM = os.environ.get("OVERCAST_CHROMIUM", "/usr/bin/chromium")
# A shared CI machine under load is slow to paint: assertions wait up to 15 s (no retries).
playwright_api.expect.set_options(timeout=15_000)
ARTIFACTS = (
    Path(os.environ.get("OVERCAST_ARTIFACTS", Path(__file__).parents[1] / "artifacts"))
    / "dashboard"
)


# Module scope: while sync Playwright runs, its event loop is the thread's running loop, and
# every asyncio test that a worker runs after the browser suite would fail to start its own.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian package chromium; make setup)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as driver:
        found = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield found
        found.close()


class User:
    """One signed-in browser user: `page`, `go(path)`, `shot(name)`, `problems` (console
    errors and CSP reports seen)."""

    def __init__(self, browser: object, base: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console", lambda m: self.problems.append(m.text) if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))

    def login(self, user: str, password: str) -> User:
        self.page.goto(self.base + "/auth/login")
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/dashboard/project/**")
        return self

    def go(self, path: str) -> object:
        return self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
