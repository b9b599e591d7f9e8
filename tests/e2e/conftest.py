"""Browser tests: Debian's chromium driven by Playwright against the app served by uvicorn in a thread."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from cadenza.bootstrap import Container
from tests.live import LiveServer, serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

expect.set_options(timeout=5_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1366, "height": 900}}


@pytest.fixture
def live_server(container: Container) -> Iterator[LiveServer]:
    with serving(container) as live:
        yield live


def sign_in(page: Page, live: LiveServer, email: str, password: str, next_path: str = "/") -> None:
    page.goto(live.url(f"/login?next={next_path}"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live.url(next_path))
    wait_until_enhanced(page)


def wait_until_enhanced(page: Page) -> None:
    """Module scripts run after the page is parsed: a control that needs main.js is used only once it has run."""
    expect(page.locator("html[data-enhanced]")).to_be_attached()
