"""Reviewing duplicates in a real browser: merge one pair after confirming; scan in the background."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cadenza.bootstrap import Container
from cadenza.contacts.schemas import ContactCreate
from cadenza.core.errors import NotFound
from cadenza.workers.loop import Worker
from tests.conftest import Actors
from tests.e2e.conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e


def test_merge_into_left_after_confirming(page: Page, live_server: LiveServer, actors: Actors,
                                          container: Container) -> None:
    alice = actors.alice.principal
    left = container.contacts.create_contact(alice, ContactCreate(first_name="Ada", email="ada@example.com",
                                                                  phone="+442079460000"))
    right = container.contacts.create_contact(alice, ContactCreate(first_name="Ada", email="ada@work.example",
                                                                   phone="+442079460000", tags=["vip"]))
    container.duplicates.find_duplicates(alice)
    sign_in(page, live_server, actors.alice.email, actors.alice.password, "/contacts/duplicates")

    pair = page.get_by_test_id("duplicate-pair")
    expect(pair).to_contain_text("Same phone number")
    expect(pair).to_contain_text("ada@work.example")
    pair.get_by_role("button", name="Merge into left").click()
    page.locator("dialog").get_by_role("button", name="Merge").click()

    expect(page.get_by_text(f"Contact #{right.id} is now part of contact #{left.id}.")).to_be_visible()
    expect(page.get_by_text("No likely duplicates")).to_be_visible()
    assert container.contacts.get_contact(alice, left.id).tags == ["vip"]
    with pytest.raises(NotFound):
        container.contacts.get_contact(alice, right.id)


def test_a_scan_runs_in_the_background_and_the_page_shows_its_pairs_when_it_ends(
        page: Page, live_server: LiveServer, actors: Actors, container: Container) -> None:
    alice = actors.alice.principal
    container.contacts.create_contact(alice, ContactCreate(first_name="Grace", email="grace@example.com"))
    container.contacts.create_contact(alice, ContactCreate(first_name="Grace", email="grace+news@example.com"))
    sign_in(page, live_server, actors.alice.email, actors.alice.password, "/contacts/duplicates")
    expect(page.get_by_text("No likely duplicates")).to_be_visible()

    page.get_by_role("button", name="Scan for duplicates").click()

    # No worker yet: the request returned at once, and the page shows the scan waiting.
    expect(page.get_by_text("Scan started.")).to_be_visible()
    expect(page.get_by_test_id("scan-status")).to_have_text("Scanning…")
    expect(page.get_by_role("button", name="Scanning…")).to_be_disabled()
    worker = Worker(container)  # the worker runs the job; the page, polling, reloads with the pair
    worker.run_once()
    expect(page.get_by_test_id("scan-status")).to_contain_text("1 new likely duplicate")
    pair = page.get_by_test_id("duplicate-pair")
    expect(pair).to_contain_text("Same email address")
    expect(pair).to_contain_text("grace+news@example.com")
    expect(page.get_by_role("button", name="Scan for duplicates")).to_be_enabled()
