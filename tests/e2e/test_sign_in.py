"""Signing in and out in a real browser; what a stranger and an analyst may see."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cadenza.auth import Role
from cadenza.auth.errors import InvalidCredentials
from cadenza.bootstrap import Container
from cadenza.core.clock import FrozenClock
from tests.conftest import Actors
from tests.e2e.conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e


def test_sign_in_with_a_wrong_then_the_right_password_and_sign_out(page: Page, live_server: LiveServer,
                                                                   actors: Actors) -> None:
    page.goto(live_server.url("/contacts"))
    expect(page).to_have_url(live_server.url("/login?next=%2Fcontacts"))

    page.get_by_label("Email").fill(actors.alice.email)
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That email and password don't match an account.")
    expect(page.get_by_label("Email")).to_have_value(actors.alice.email)

    page.get_by_label("Password").fill(actors.alice.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url("/contacts"))
    expect(page.locator(".workspace-name")).to_have_text("Acme")

    page.locator(".user-menu summary").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(live_server.url("/login"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(live_server.url("/contacts"))
    expect(page).to_have_url(live_server.url("/login?next=%2Fcontacts"))


def test_an_analyst_sees_no_settings_and_is_refused_them(page: Page, live_server: LiveServer, actors: Actors,
                                                         container: Container) -> None:
    container.access.create_user(actors.alice.principal, "ann@acme.test", "analyst password", Role.ANALYST)
    sign_in(page, live_server, "ann@acme.test", "analyst password")

    expect(page.locator(".sidebar")).to_contain_text("Contacts")
    expect(page.locator(".sidebar")).not_to_contain_text("API keys")
    expect(page.locator(".nav-item.is-soon", has_text="Journeys")).to_contain_text("soon")

    response = page.goto(live_server.url("/settings/users"))
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You can't do that here")).to_be_visible()


def test_too_many_failed_sign_ins_say_when_to_try_again(page: Page, live_server: LiveServer, actors: Actors,
                                                        container: Container, clock: FrozenClock) -> None:
    for wait in (0, 0, 0, 5):  # four wrong passwords already, each as soon as allowed
        clock.advance(seconds=wait)
        with pytest.raises(InvalidCredentials):
            container.access.sign_in(actors.alice.email, "not my password", client_ip="127.0.0.1")
    clock.advance(seconds=10)
    page.goto(live_server.url("/login"))

    page.get_by_label("Email").fill(actors.alice.email)
    page.get_by_label("Password").fill("still not my password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That email and password don't match an account. Too many failed attempts: try again in 15 minutes.")

    page.get_by_label("Password").fill(actors.alice.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Too many failed sign-ins. Try again in 15 minutes.")
    expect(page).to_have_url(live_server.url("/login"))

    clock.advance(minutes=15)
    page.get_by_label("Password").fill(actors.alice.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url("/"))
