"""/docs renders the API with nothing fetched from outside the server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Route, expect

from tests.conftest import Actors
from tests.e2e.conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e

# Swagger UI fetches the whole OpenAPI document and renders every operation before the first one shows: on
# a loaded 2-core CI machine that has taken more than the suite's usual 5 s.
RENDERED = 20_000


@pytest.fixture
def offline_page(page: Page) -> Iterator[tuple[Page, list[str]]]:
    """A page whose every request to anywhere but 127.0.0.1 is aborted (and listed)."""
    outside: list[str] = []

    def only_local(route: Route) -> None:
        url = route.request.url
        if url.startswith("http://127.0.0.1:") or url.startswith("data:"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_local)
    yield page, outside


def test_swagger_ui_renders_the_operations_offline(offline_page: tuple[Page, list[str]],
                                                   live_server: LiveServer) -> None:
    page, outside = offline_page
    page.goto(live_server.url("/docs"))

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Cadenza", timeout=RENDERED)
    contacts = page.locator(".opblock-summary-path", has_text="/api/v1/contacts").first
    expect(contacts).to_be_visible(timeout=RENDERED)
    assert page.locator(".opblock").count() > 40
    page.locator(".opblock-get .opblock-summary", has_text="/api/v1/contacts").first.click()
    expect(page.locator(".opblock-body .parameters").first).to_contain_text("limit")
    assert outside == []


def test_the_sidebar_links_the_api_docs(page: Page, live_server: LiveServer, actors: Actors) -> None:
    sign_in(page, live_server, actors.alice.email, actors.alice.password)

    page.get_by_role("link", name="API docs").click()
    expect(page).to_have_url(live_server.url("/docs"))
    expect(page.locator(".opblock").first).to_be_visible(timeout=RENDERED)
