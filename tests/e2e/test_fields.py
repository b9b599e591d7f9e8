"""Fields in a real browser: add an enum field, edit its options, delete it through the confirm dialog."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cadenza.bootstrap import Container
from tests.conftest import Actors
from tests.e2e.conftest import LiveServer, sign_in, wait_until_enhanced

pytestmark = pytest.mark.e2e


def test_a_marketer_adds_edits_and_deletes_a_field(page: Page, live_server: LiveServer, actors: Actors,
                                                   container: Container) -> None:
    sign_in(page, live_server, actors.bob.email, actors.bob.password)

    page.get_by_role("complementary", name="Main navigation").get_by_role("link", name="Fields").click()
    page.wait_for_url(live_server.url("/fields"))
    expect(page.get_by_role("heading", name="Fields", exact=True)).to_be_visible()
    expect(page.get_by_text("No contact fields yet")).to_be_visible()

    page.get_by_label("Field of").select_option("contact")
    page.get_by_label("Label").fill("Plan")
    page.get_by_label("Key", exact=True).fill("plan")
    page.get_by_label("Type").select_option("enum")
    page.get_by_label("Options").fill("free\npro")
    page.get_by_role("button", name="Add field").click()

    expect(page.get_by_text("The contact field Plan (plan) is added.")).to_be_visible()
    row = page.get_by_test_id("contact-fields").locator("tr[data-field='plan']")
    expect(row).to_contain_text("enum")
    expect(row).to_contain_text("free, pro")
    field = container.fields.list_fields(actors.alice.principal, "contact")[0]
    assert (field.key, field.options) == ("plan", ["free", "pro"])

    row.get_by_role("link", name="Edit Plan").click()
    page.wait_for_url(live_server.url(f"/fields/{field.id}/edit"))
    expect(page.get_by_text("The key and the type can't change")).to_be_visible()
    expect(page.get_by_label("Options")).to_have_value("free\npro")
    page.get_by_label("Options").fill("free\npro\nenterprise")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_text("The field Plan (plan) is saved.")).to_be_visible()
    expect(row).to_contain_text("free, pro, enterprise")
    assert container.fields.get_field(actors.alice.principal, field.id).options == ["free", "pro", "enterprise"]
    wait_until_enhanced(page)

    row.get_by_role("button", name="Delete Plan").click()
    dialog = page.locator("dialog")
    expect(dialog).to_contain_text("Delete the field Plan?")
    expect(dialog).to_contain_text("values stored under plan stay on the contacts")
    dialog.get_by_role("button", name="Delete field").click()

    expect(page.get_by_text("The field Plan (plan) is deleted. Values stored under plan stay on the contacts."))\
        .to_be_visible()
    expect(page.get_by_text("No contact fields yet")).to_be_visible()
    assert container.fields.list_fields(actors.alice.principal, "contact") == []
