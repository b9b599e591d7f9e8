"""Companies in a real browser: add one, rename it, delete it through the confirm dialog."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cadenza.bootstrap import Container
from tests.conftest import Actors
from tests.e2e.conftest import LiveServer, sign_in, wait_until_enhanced

pytestmark = pytest.mark.e2e


def test_a_marketer_adds_renames_and_deletes_a_company(page: Page, live_server: LiveServer, actors: Actors,
                                                       container: Container) -> None:
    alice = actors.alice.principal
    sign_in(page, live_server, actors.bob.email, actors.bob.password)

    page.get_by_role("complementary", name="Main navigation").get_by_role("link", name="Companies").click()
    page.wait_for_url(live_server.url("/companies"))
    page.get_by_role("link", name="New company").click()
    page.wait_for_url(live_server.url("/companies/new"))

    page.get_by_label("Name").fill("Acme")
    page.get_by_label("Domain").fill("https://www.acme.com/")
    page.get_by_role("button", name="Add company").click()

    expect(page.get_by_text("The company Acme is added.")).to_be_visible()
    [company] = container.companies.list_companies(alice).items
    assert (company.name, company.domain) == ("Acme", "acme.com")
    page.wait_for_url(live_server.url(f"/companies/{company.id}"))
    expect(page.get_by_role("heading", name="Acme", exact=True)).to_be_visible()

    page.get_by_role("link", name="Edit").click()
    page.wait_for_url(live_server.url(f"/companies/{company.id}/edit"))
    expect(page.get_by_label("Domain")).to_have_value("acme.com")
    page.get_by_label("Name").fill("Acme Corp")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_text("The company Acme Corp is saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Acme Corp", exact=True)).to_be_visible()
    assert container.companies.get_company(alice, company.id).name == "Acme Corp"
    wait_until_enhanced(page)

    page.get_by_role("button", name="Delete").click()
    dialog = page.locator("dialog")
    expect(dialog).to_contain_text("Delete Acme Corp?")
    expect(dialog).to_contain_text("Its contacts stay, without a company.")
    dialog.get_by_role("button", name="Delete company").click()

    expect(page.get_by_text("The company Acme Corp is deleted. Its contacts stay, without a company.")).to_be_visible()
    page.wait_for_url(live_server.url("/companies"))
    expect(page.get_by_text("No companies yet")).to_be_visible()
    assert container.companies.list_companies(alice).items == []
