"""Contacts in a real browser: the list with search and pagination, the profile with tags and timeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cadenza.bootstrap import Container
from tests.conftest import Actors
from tests.e2e.conftest import LiveServer, sign_in
from tests.web.factories import make_contacts, seed_demo_like, track_history

pytestmark = pytest.mark.e2e


def test_contacts_list_search_and_pagination(page: Page, live_server: LiveServer, actors: Actors,
                                             container: Container) -> None:
    people = make_contacts(container, actors.alice.principal, 30)
    sign_in(page, live_server, actors.alice.email, actors.alice.password, "/contacts")

    rows = page.get_by_test_id("contacts").locator("tbody tr")
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text(people[-1].email or "")
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(rows).to_have_count(5)
    expect(rows.last).to_contain_text(people[0].email or "")
    page.get_by_role("link", name="Previous").click()
    expect(rows).to_have_count(25)

    page.get_by_label("Search", exact=True).fill(people[3].email or "")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"{people[3].first_name} {people[3].last_name}")
    page.get_by_role("link", name="Clear", exact=True).click()
    expect(rows).to_have_count(25)


def test_contact_profile_shows_fields_and_timeline_and_takes_a_tag(page: Page, live_server: LiveServer,
                                                                   actors: Actors, container: Container) -> None:
    data = seed_demo_like(container, actors.alice.principal, contacts=3)
    ada = data.contacts[0]
    track_history(container, actors.alice.principal, ada.external_id or "", events=6)
    sign_in(page, live_server, actors.alice.email, actors.alice.password, f"/contacts/{ada.id}")

    expect(page.get_by_role("heading", level=1)).to_have_text(f"{ada.first_name} {ada.last_name}")
    expect(page.get_by_test_id("custom-fields")).to_contain_text("Plan")
    timeline = page.get_by_test_id("timeline").locator(".timeline-item")
    expect(timeline.first).to_contain_text("identify")
    expect(page.get_by_test_id("timeline")).to_contain_text("Invoice Paid")

    page.get_by_label("Add tags").fill("gold-customer")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_text("Tagged gold-customer.")).to_be_visible()
    expect(page.get_by_test_id("tags")).to_contain_text("gold-customer")
    assert "gold-customer" in container.contacts.get_contact(actors.alice.principal, ada.id).tags

    page.get_by_role("button", name="Remove tag gold-customer").click()
    expect(page.get_by_text("Removed the tag gold-customer.")).to_be_visible()
    assert "gold-customer" not in container.contacts.get_contact(actors.alice.principal, ada.id).tags


def test_the_filtered_list_downloads_as_csv(page: Page, live_server: LiveServer, actors: Actors,
                                            container: Container) -> None:
    people = make_contacts(container, actors.alice.principal, 30)
    sign_in(page, live_server, actors.alice.email, actors.alice.password, "/contacts")

    with page.expect_download() as everyone:
        page.get_by_role("link", name="Export CSV").click()
    lines = Path(everyone.value.path()).read_text().splitlines()
    assert everyone.value.suggested_filename == "contacts.csv"
    assert len(lines) == 31  # the header and all 30, not just the page on screen

    page.get_by_label("Search", exact=True).fill(people[3].email or "")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("contacts").locator("tbody tr")).to_have_count(1)
    with page.expect_download() as one:
        page.get_by_role("link", name="Export CSV").click()
    lines = Path(one.value.path()).read_text().splitlines()
    assert len(lines) == 2 and people[3].email in lines[1]


def test_a_marketer_adds_a_contact_by_hand(page: Page, live_server: LiveServer, actors: Actors,
                                           container: Container) -> None:
    sign_in(page, live_server, actors.bob.email, actors.bob.password, "/contacts")

    page.get_by_role("link", name="New contact").click()
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Email").fill("not an email")
    page.get_by_role("button", name="Add contact").click()
    expect(page.locator("#email-error")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_value("Grace")

    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Tags").fill("vip")
    page.get_by_role("button", name="Add contact").click()

    expect(page.get_by_text("Contact added.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Grace")
    page.get_by_role("link", name="Contacts", exact=True).first.click()
    expect(page.get_by_test_id("contacts").locator("tbody tr")).to_have_count(1)
