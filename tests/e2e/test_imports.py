"""An import in a real browser: upload → check the mapping → start → the job runs → counts and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cadenza.bootstrap import Container
from cadenza.workers.loop import Worker
from tests.conftest import Actors
from tests.e2e.conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e

CSV = ("Email,First name,Surname,Favourite colour\n"
       "ada@example.com,Ada,Lovelace,green\n"
       "grace@example.com,Grace,Hopper,blue\n"
       "broken-address,Alan,Turing,red\n")


def test_upload_map_run_and_read_the_report(page: Page, live_server: LiveServer, actors: Actors,
                                            container: Container, tmp_path: Path) -> None:
    source = tmp_path / "people.csv"
    source.write_text(CSV)
    sign_in(page, live_server, actors.alice.email, actors.alice.password, "/imports/new")

    page.locator("input[type=file]").set_input_files(source)
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_test_id("detected-format")).to_contain_text("Delimiter: Comma")
    expect(page.get_by_label("Email", exact=True)).to_have_value("email")
    expect(page.get_by_label("Surname")).to_have_value("last_name")
    page.get_by_label("Surname").select_option("ignore")
    page.get_by_role("button", name="Start import").click()

    expect(page.get_by_test_id("import-status")).to_have_text("pending")
    assert Worker(container).run_once() >= 1
    expect(page.get_by_test_id("import-status")).to_have_text("done", timeout=10_000)
    counts = page.get_by_test_id("import-counts")
    expect(counts.locator("[data-field=rows_created]")).to_have_text("2")
    expect(counts.locator("[data-field=rows_failed]")).to_have_text("1")
    errors = page.get_by_test_id("import-errors")
    expect(errors.locator("tbody tr")).to_have_count(1)
    expect(errors.locator("tbody tr").first).to_contain_text("4")
    expect(errors.get_by_role("link", name="Download errors.csv")).to_be_visible()
    grace = container.contacts.list_contacts(actors.alice.principal, _email("grace@example.com")).items[0]
    assert (grace.first_name, grace.last_name) == ("Grace", None)


def _email(address: str):  # type: ignore[no-untyped-def]
    from cadenza.contacts.schemas import ContactFilters

    return ContactFilters(email=address)
