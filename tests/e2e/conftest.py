"""Browser tests: Debian's chromium driven by Playwright against the app served by uvicorn in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page, expect

from cadenza.bootstrap import Container

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    base: str

    def url(self, path: str = "/") -> str:
        return self.base + path


@pytest.fixture
def live_server(container: Container) -> Iterator[LiveServer]:
    from cadenza.web import create_server_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_server_app(container), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, name="cadenza-e2e-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    yield LiveServer(f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=5)


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
