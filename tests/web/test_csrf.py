"""Every state-changing UI form needs the session's CSRF token and a same-origin request."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cadenza.bootstrap import Container
from tests.conftest import Actors
from tests.web.ui import SignIn, session_token


def key_names(container: Container, actors: Actors) -> list[str]:
    return sorted(key.name for key in container.access.list_api_keys(actors.alice.principal))


@pytest.mark.parametrize("token", [None, "", "not-the-token"], ids=["missing", "empty", "wrong"])
def test_a_post_without_the_right_token_is_refused_and_changes_nothing(
        sign_in_as: SignIn, actors: Actors, container: Container, token: str | None) -> None:
    client: TestClient = sign_in_as(actors.alice)
    before = key_names(container, actors)
    data = {"name": "Sneaky", "scope": "admin"}
    if token is not None:
        data["csrf_token"] = token

    response = client.post("/settings/api-keys", data=data, follow_redirects=False)

    assert response.status_code == 403
    assert "This form could not be accepted" in response.text
    assert key_names(container, actors) == before


def test_the_token_of_another_session_is_refused(sign_in_as: SignIn, actors: Actors,
                                                 container: Container) -> None:
    alice_elsewhere = sign_in_as(actors.alice)
    client = sign_in_as(actors.alice)
    before = key_names(container, actors)

    response = client.post("/settings/api-keys", data={"name": "Sneaky", "scope": "admin",
                                                       "csrf_token": session_token(alice_elsewhere)},
                           follow_redirects=False)

    assert response.status_code == 403
    assert key_names(container, actors) == before


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Referer": "https://evil.example/page"},
], ids=["origin", "null-origin", "referer"])
def test_a_post_from_another_site_is_refused_even_with_the_token(
        sign_in_as: SignIn, actors: Actors, container: Container, headers: dict[str, str]) -> None:
    client = sign_in_as(actors.alice)
    before = key_names(container, actors)

    response = client.post("/settings/api-keys", data={"name": "Sneaky", "scope": "admin",
                                                       "csrf_token": session_token(client)},
                           headers=headers, follow_redirects=False)

    assert response.status_code == 403
    assert key_names(container, actors) == before


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://testserver"}, {"Referer": "http://testserver/x"}],
                         ids=["no-origin", "same-origin", "same-referer"])
def test_a_post_from_our_own_page_is_accepted(sign_in_as: SignIn, actors: Actors, container: Container,
                                              headers: dict[str, str]) -> None:
    client = sign_in_as(actors.alice)

    response = client.post("/settings/api-keys", data={"name": "Website", "scope": "ingest",
                                                       "csrf_token": session_token(client)},
                           headers=headers, follow_redirects=False)

    assert response.status_code == 200
    assert "Website" in key_names(container, actors)


def test_the_refusal_page_is_html_with_the_layout(sign_in_as: SignIn, actors: Actors) -> None:
    client = sign_in_as(actors.alice)

    response = client.post("/logout", data={}, follow_redirects=False)

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "security token is missing" in response.text
    assert client.get("/settings/users").status_code == 200  # still signed in
