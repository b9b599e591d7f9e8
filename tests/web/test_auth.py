"""Signing in and out of the UI, and where strangers are sent."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cadenza.auth.models import UserSession
from cadenza.bootstrap import Container
from cadenza.core.clock import FrozenClock
from cadenza.web.session import safe_next
from tests.conftest import Actors
from tests.web.ui import SignIn, form_token, found, post_form, sign_in


def session_count(container: Container) -> int:
    with container.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(UserSession)) or 0)


@pytest.mark.parametrize("path, location", [
    ("/", "/login"),
    ("/contacts", "/login?next=%2Fcontacts"),
    ("/contacts?q=ann&tag=vip", "/login?next=%2Fcontacts%3Fq%3Dann%26tag%3Dvip"),
    ("/settings/users", "/login?next=%2Fsettings%2Fusers"),
], ids=["dashboard", "contacts", "with-query", "settings"])
def test_a_stranger_is_sent_to_sign_in_with_where_they_were_going(client: TestClient, path: str,
                                                                  location: str) -> None:
    response = client.get(path, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == location


def test_a_stranger_posting_a_form_is_sent_to_sign_in(client: TestClient, actors: Actors,
                                                      container: Container) -> None:
    before = len(container.access.list_api_keys(actors.alice.principal))

    response = client.post("/settings/api-keys", data={"name": "x", "scope": "read"}, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert len(container.access.list_api_keys(actors.alice.principal)) == before


@pytest.mark.parametrize("target, expected", [
    ("/contacts?q=a", "/contacts?q=a"),
    ("/", "/"),
    ("//evil.example/x", "/"),
    ("https://evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/ok\r\nSet-Cookie: x=1", "/"),
    ("", "/"),
    (None, "/"),
], ids=["path", "root", "protocol-relative", "absolute", "backslash", "scheme", "header-injection", "empty", "none"])
def test_next_only_ever_names_a_path_on_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_signing_in_opens_a_session_and_goes_where_asked(client: TestClient, actors: Actors,
                                                         container: Container) -> None:
    page = client.get("/login?next=/contacts%3Fq%3Dann")
    assert page.status_code == 200
    assert 'name="next" value="/contacts?q=ann"' in page.text

    response = client.post("/login", data={"email": "ALICE@acme.test ", "password": actors.alice.password,
                                           "csrf_token": form_token(page.text), "next": "/contacts?q=ann"},
                           follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/contacts?q=ann"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("cadenza_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    token = found(r"cadenza_session=([^;]+)", cookie)
    signed_in = container.access.resolve_session(token)
    assert signed_in is not None and signed_in.principal.label == "alice@acme.test"
    assert signed_in.workspace_name == "Acme"


def test_the_session_cookie_is_secure_when_configured(container: Container, actors: Actors) -> None:
    from cadenza.web import create_server_app

    container.settings.secure_cookies = True
    with TestClient(create_server_app(container), base_url="https://testserver") as client:
        response = sign_in(client, actors.alice.email, actors.alice.password)

    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("cadenza_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_a_wrong_password_shows_an_error_and_keeps_the_email(client: TestClient, actors: Actors,
                                                            container: Container) -> None:
    response = sign_in(client, actors.alice.email, "not the password")

    assert response.status_code == 401
    assert "That email and password don&#39;t match an account." in response.text
    assert 'value="alice@acme.test"' in response.text
    assert not any(c.startswith("cadenza_session=") for c in response.headers.get_list("set-cookie"))
    assert session_count(container) == 0


def test_repeated_failures_are_refused_with_429_retry_after_and_a_form_message(
        client: TestClient, actors: Actors, container: Container, clock: FrozenClock) -> None:
    for wait in (0, 0, 0, 5, 10):  # five wrong passwords, each as soon as allowed
        clock.advance(seconds=wait)
        response = sign_in(client, actors.alice.email, "not the password")
        assert response.status_code == 401
    assert "Too many failed attempts: try again in 15 minutes." in response.text

    response = sign_in(client, actors.alice.email, actors.alice.password)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "900"
    assert 'role="alert"><svg' in response.text
    assert "Too many failed sign-ins. Try again in 15 minutes." in response.text
    assert 'value="alice@acme.test"' in response.text
    assert session_count(container) == 0
    clock.advance(minutes=15)
    assert sign_in(client, actors.alice.email, actors.alice.password).status_code == 303


def test_a_signed_in_user_visiting_login_goes_on(sign_in_as: SignIn, actors: Actors) -> None:
    client = sign_in_as(actors.alice)

    response = client.get("/login?next=/settings/users", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/settings/users"


def test_login_without_its_csrf_cookie_is_refused(client: TestClient, actors: Actors,
                                                  container: Container) -> None:
    token = form_token(client.get("/login").text)
    client.cookies.clear()

    response = client.post("/login", data={"email": actors.alice.email, "password": actors.alice.password,
                                           "csrf_token": token}, follow_redirects=False)

    assert response.status_code == 403
    assert session_count(container) == 0


def test_login_with_a_token_of_another_browser_is_refused(app: FastAPI, actors: Actors,
                                                          container: Container) -> None:
    with TestClient(app) as attacker, TestClient(app) as victim:
        attackers_token = form_token(attacker.get("/login").text)
        victim.get("/login")

        response = victim.post("/login", data={"email": actors.alice.email, "password": actors.alice.password,
                                               "csrf_token": attackers_token}, follow_redirects=False)

    assert response.status_code == 403
    assert session_count(container) == 0


def test_login_from_another_origin_is_refused(client: TestClient, actors: Actors, container: Container) -> None:
    token = form_token(client.get("/login").text)

    response = client.post("/login", data={"email": actors.alice.email, "password": actors.alice.password,
                                           "csrf_token": token}, headers={"Origin": "https://evil.example"},
                           follow_redirects=False)

    assert response.status_code == 403
    assert session_count(container) == 0


def test_signing_out_ends_the_session(sign_in_as: SignIn, actors: Actors,
                                      container: Container) -> None:
    client = sign_in_as(actors.alice)
    token = client.cookies.get("cadenza_session")

    response = post_form(client, "/logout")

    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert container.access.resolve_session(token) is None
    assert client.get("/settings/users", follow_redirects=False).status_code == 303
    assert "You are signed out." in client.get("/login").text


def test_an_expired_session_is_sent_to_sign_in_again(sign_in_as: SignIn, actors: Actors, clock: FrozenClock) -> None:
    client = sign_in_as(actors.alice)
    assert client.get("/contacts", follow_redirects=False).status_code == 200

    clock.advance(days=14, seconds=1)

    response = client.get("/contacts", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcontacts"
