"""Settings in a real browser: adding a user, an API key shown once, the audit log, CSRF refusal."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cadenza.auth.errors import InvalidCredentials
from cadenza.bootstrap import Container
from cadenza.core.clock import FrozenClock
from tests.conftest import Actors
from tests.e2e.conftest import LiveServer, sign_in, wait_until_enhanced

pytestmark = pytest.mark.e2e


def test_an_admin_adds_a_user(page: Page, live_server: LiveServer, actors: Actors, container: Container) -> None:
    sign_in(page, live_server, actors.alice.email, actors.alice.password, "/settings/users")

    page.get_by_label("Email").fill("dana@acme.test")
    page.get_by_label("Name").fill("Dana Scully")
    page.get_by_label("Role", exact=True).select_option("analyst")
    page.get_by_label("Password").fill("trust no one 1013")
    page.get_by_role("button", name="Add user").click()

    expect(page.get_by_text("dana@acme.test can now sign in as analyst.")).to_be_visible()
    row = page.locator("tr[data-user='dana@acme.test']")
    expect(row).to_contain_text("Dana Scully")
    expect(row.get_by_label("Role of dana@acme.test")).to_have_value("analyst")
    wait_until_enhanced(page)
    roles = {user.email: str(role) for user, role in container.access.list_members(actors.alice.principal)}
    assert roles["dana@acme.test"] == "analyst"

    row.get_by_label("Role of dana@acme.test").select_option("marketer")  # submits itself
    expect(page.get_by_text("dana@acme.test is now marketer.")).to_be_visible()


def test_an_api_key_is_shown_once_then_only_by_prefix_and_can_be_revoked(page: Page, live_server: LiveServer,
                                                                         actors: Actors,
                                                                         container: Container) -> None:
    sign_in(page, live_server, actors.alice.email, actors.alice.password, "/settings/api-keys")

    page.get_by_label("Name").fill("Website tracking")
    page.get_by_label("Ingest").check()
    page.get_by_role("button", name="Create key").click()

    raw = page.get_by_test_id("new-api-key").inner_text()
    assert container.access.authenticate_api_key(raw).label.endswith("(Website tracking)")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    page.get_by_role("link", name="I've saved it — back to keys").click()

    key = next(k for k in container.access.list_api_keys(actors.alice.principal) if k.name == "Website tracking")
    row = page.locator(f"tr[data-key='{key.prefix}']")
    expect(row).to_contain_text(f"{key.prefix}…")
    expect(page.locator("body")).not_to_contain_text(raw)
    wait_until_enhanced(page)

    row.get_by_role("link", name="Revoke").click()
    page.locator("dialog").get_by_role("button", name="Revoke key").click()
    expect(page.get_by_text(f"The key {key.prefix}… (Website tracking) is revoked.")).to_be_visible()
    expect(row).to_contain_text("revoked")


def test_the_audit_log_shows_what_happened(page: Page, live_server: LiveServer, actors: Actors) -> None:
    sign_in(page, live_server, actors.alice.email, actors.alice.password, "/settings/audit")

    rows = page.get_by_test_id("audit").locator("tbody tr")
    expect(rows.first).to_contain_text("user.signed_in")
    expect(page.get_by_test_id("audit")).to_contain_text("user.created")
    expect(page.get_by_test_id("audit")).to_contain_text("email: bob@acme.test")

    page.get_by_label("Action").fill("api_key.created")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("api_key.created")


def test_a_form_with_a_wrong_csrf_token_is_refused_and_changes_nothing(page: Page, live_server: LiveServer,
                                                                       actors: Actors,
                                                                       container: Container) -> None:
    sign_in(page, live_server, actors.alice.email, actors.alice.password, "/settings/api-keys")
    before = len(container.access.list_api_keys(actors.alice.principal))

    page.locator("form[action='/settings/api-keys'] input[name=csrf_token]").evaluate(
        "input => input.value = 'forged'")
    page.get_by_label("Name").fill("Forged key")
    page.get_by_role("button", name="Create key").click()

    expect(page.get_by_role("heading", name="This form could not be accepted")).to_be_visible()
    assert len(container.access.list_api_keys(actors.alice.principal)) == before


def test_an_admin_unlocks_a_member_locked_out_by_failed_sign_ins(page: Page, live_server: LiveServer, actors: Actors,
                                                                 container: Container, clock: FrozenClock) -> None:
    for wait in (0, 0, 0, 5, 10):  # five failures from one network, each as soon as allowed
        clock.advance(seconds=wait)
        with pytest.raises(InvalidCredentials):
            container.access.sign_in(actors.bob.email, "not the password", client_ip="203.0.113.7")
    sign_in(page, live_server, actors.alice.email, actors.alice.password, "/settings/users")

    row = page.locator(f"tr[data-user='{actors.bob.email}']")
    expect(row.get_by_test_id("sign-in-lock")).to_contain_text("sign-in locked")
    expect(page.locator(f"tr[data-user='{actors.alice.email}']").get_by_test_id("sign-in-lock")).to_have_count(0)
    row.get_by_role("button", name="Unlock sign-in").click()

    expect(page.get_by_text(f"{actors.bob.email} can sign in again now.")).to_be_visible()
    expect(row.get_by_test_id("sign-in-lock")).to_have_count(0)
    expect(row.get_by_role("button", name="Unlock sign-in")).to_have_count(0)
    container.access.sign_in(actors.bob.email, actors.bob.password, client_ip="203.0.113.7")
