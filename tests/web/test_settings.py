"""Settings pages: users, API keys and the audit log are for admins only."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cadenza.auth import Role, Scope
from cadenza.auth.models import ApiKey
from cadenza.bootstrap import Container
from tests.conftest import Actors
from tests.web.ui import SignIn, found, link, post_form, sign_in


def member_roles(container: Container, actors: Actors) -> dict[str, str]:
    return {user.email: str(role) for user, role in container.access.list_members(actors.alice.principal)}


@pytest.mark.parametrize("path", ["/settings/users", "/settings/api-keys", "/settings/audit"])
def test_a_marketer_gets_a_403_page_for_settings(sign_in_as: SignIn, actors: Actors, path: str) -> None:
    client = sign_in_as(actors.bob)

    response = client.get(path)

    assert response.status_code == 403
    assert "You can&#39;t do that here" in response.text
    assert "This needs the admin permission." in response.text


def test_settings_links_show_only_to_admins(sign_in_as: SignIn, actors: Actors) -> None:
    assert 'href="/settings/users"' in sign_in_as(actors.alice).get("/").text
    assert 'href="/settings/users"' not in sign_in_as(actors.bob).get("/").text


def test_a_marketer_cannot_add_a_user(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    client = sign_in_as(actors.bob)

    response = post_form(client, "/settings/users", {"email": "eve@acme.test", "role": "owner",
                                                     "password": "long enough password"})

    assert response.status_code == 403
    assert "eve@acme.test" not in member_roles(container, actors)


def test_an_admin_adds_a_user_who_can_then_sign_in(sign_in_as: SignIn, actors: Actors, container: Container,
                                                   app: FastAPI) -> None:
    client = sign_in_as(actors.alice)

    response = post_form(client, "/settings/users", {"email": "dana@acme.test", "name": "Dana", "role": "analyst",
                                                     "password": "a good long password"})

    assert response.status_code == 303
    assert response.headers["location"] == "/settings/users"
    page = client.get("/settings/users").text
    assert "dana@acme.test can now sign in as analyst." in page
    assert member_roles(container, actors)["dana@acme.test"] == "analyst"
    with TestClient(app) as dana:
        assert sign_in(dana, "dana@acme.test", "a good long password").status_code == 303


def test_a_blank_password_is_generated_and_shown_once(sign_in_as: SignIn, actors: Actors, app: FastAPI) -> None:
    client = sign_in_as(actors.alice)

    response = post_form(client, "/settings/users", {"email": "erin@acme.test", "role": "marketer", "password": ""})

    assert response.status_code == 200
    password = found(r'data-testid="generated-password">([^<]+)<', response.text)
    assert len(password) >= 16
    assert password not in client.get("/settings/users").text
    with TestClient(app) as erin:
        assert sign_in(erin, "erin@acme.test", password).status_code == 303


@pytest.mark.parametrize("form, field_error", [
    ({"email": "not-an-email", "role": "marketer", "password": "long enough password"}, "is not an email address"),
    ({"email": "frank@acme.test", "role": "marketer", "password": "short"}, "At least 10 characters."),
    ({"email": "frank@acme.test", "role": "emperor", "password": "long enough password"},
     "Choose one of the listed roles."),
], ids=["bad-email", "short-password", "unknown-role"])
def test_a_bad_new_user_is_shown_inline_and_nothing_is_added(sign_in_as: SignIn, actors: Actors, container: Container,
                                                             form: dict[str, str], field_error: str) -> None:
    client = sign_in_as(actors.alice)
    before = member_roles(container, actors)

    response = post_form(client, "/settings/users", form)

    assert response.status_code == 422
    assert 'class="field-error"' in response.text and field_error in response.text
    assert f'value="{form["email"]}"' in response.text
    assert member_roles(container, actors) == before


def test_an_existing_member_is_a_conflict_shown_inline(sign_in_as: SignIn, actors: Actors) -> None:
    client = sign_in_as(actors.alice)

    response = post_form(client, "/settings/users", {"email": "bob@acme.test", "role": "marketer",
                                                     "password": "long enough password"})

    assert response.status_code == 409
    assert "bob@acme.test is already a member of this workspace." in response.text


def test_an_admin_changes_a_role_and_deactivates_a_member(sign_in_as: SignIn, actors: Actors, container: Container,
                                                          app: FastAPI) -> None:
    client = sign_in_as(actors.alice)
    bob_id = actors.bob.principal.id

    response = post_form(client, f"/settings/users/{bob_id}/role", {"role": "admin"})
    assert response.status_code == 303
    assert "bob@acme.test is now admin." in client.get("/settings/users").text
    assert member_roles(container, actors)["bob@acme.test"] == "admin"

    response = post_form(client, f"/settings/users/{bob_id}/deactivate")
    assert response.status_code == 303
    with TestClient(app) as bob:
        assert sign_in(bob, actors.bob.email, actors.bob.password).status_code == 401


def test_the_last_owner_keeps_the_role_and_sees_why(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    container.access.update_member(actors.alice.principal, actors.bob.principal.id, role=Role.ADMIN)
    client = sign_in_as(actors.bob)

    response = post_form(client, f"/settings/users/{actors.alice.principal.id}/role", {"role": "marketer"})

    assert response.status_code == 303
    assert member_roles(container, actors)["alice@acme.test"] == "owner"
    shown = found(r'class="flash flash-error"[^>]*>.*?<span>(.*?)</span>', client.get("/settings/users").text.replace(
        "\n", ""))
    assert "owner" in shown  # the service's reason, shown as an error flash


def test_a_new_api_key_is_shown_once_then_only_its_prefix(sign_in_as: SignIn, actors: Actors,
                                                         container: Container) -> None:
    client = sign_in_as(actors.alice)

    response = post_form(client, "/settings/api-keys", {"name": "Website", "scope": "ingest"})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    raw = found(r'data-testid="new-api-key">([^<]+)<', response.text)
    principal = container.access.authenticate_api_key(raw)
    assert principal.scope is Scope.INGEST and principal.workspace_id == actors.alice.workspace_id
    key = next(k for k in container.access.list_api_keys(actors.alice.principal) if k.name == "Website")
    listing = client.get("/settings/api-keys").text
    assert raw not in listing
    assert f"<code>{key.prefix}…</code>" in listing


def test_an_api_key_needs_a_name_and_a_scope(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    client = sign_in_as(actors.alice)
    before = len(container.access.list_api_keys(actors.alice.principal))

    response = post_form(client, "/settings/api-keys", {"name": " ", "scope": "root"})

    assert response.status_code == 422
    assert "Give the key a name" in response.text and "Choose one of the listed scopes." in response.text
    assert len(container.access.list_api_keys(actors.alice.principal)) == before


def test_revoking_a_key_asks_first_then_refuses_the_key(sign_in_as: SignIn, actors: Actors,
                                                       container: Container) -> None:
    key, _raw = container.access.create_api_key(actors.alice.principal, "Old app", Scope.READ)
    client = sign_in_as(actors.alice)

    confirm = client.get(f"/settings/api-keys/{key.id}/revoke")
    assert confirm.status_code == 200
    assert f"Revoke the key {key.prefix}…?" in confirm.text
    assert _revoked_at(container, key.id) is None

    response = post_form(client, f"/settings/api-keys/{key.id}/revoke")

    assert response.status_code == 303
    assert _revoked_at(container, key.id) is not None
    assert "is revoked" in client.get("/settings/api-keys").text


def test_a_key_of_another_workspace_is_not_found(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    key, _raw = container.access.create_api_key(actors.charlie.principal, "Globex app", Scope.READ)
    client = sign_in_as(actors.alice)

    assert client.get(f"/settings/api-keys/{key.id}/revoke").status_code == 404
    assert post_form(client, f"/settings/api-keys/{key.id}/revoke").status_code == 404
    assert _revoked_at(container, key.id) is None


def _revoked_at(container: Container, key_id: int) -> dt.datetime | None:
    with container.db.read() as session:
        key = session.get(ApiKey, key_id)
        assert key is not None
        return key.revoked_at


def test_the_audit_log_lists_newest_first_and_filters_by_action(sign_in_as: SignIn, actors: Actors,
                                                                container: Container) -> None:
    container.access.create_api_key(actors.alice.principal, "Audited key", Scope.READ)
    client = sign_in_as(actors.alice)

    page = client.get("/settings/audit").text
    rows = re.findall(r'<span class="badge badge-\w+">([a-z_.]+)</span>', page)
    assert rows[:2] == ["user.signed_in", "api_key.created"]
    assert "Audited key" in page

    filtered = client.get("/settings/audit?action=user.created").text
    assert re.findall(r'<span class="badge badge-\w+">([a-z_.]+)</span>', filtered) == ["user.created"]
    assert "bob@acme.test" in filtered


def test_the_audit_log_pages_forward_and_back(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    for n in range(30):
        container.access.create_api_key(actors.alice.principal, f"key {n:02}", Scope.READ)
    client = sign_in_as(actors.alice)

    first = client.get("/settings/audit?action=api_key.created").text
    assert first.count('class="badge badge-neutral">api_key.created<') == 25
    assert "key 29" in first and "key 05" in first and "key 04" not in first
    next_url = link(first, "next")

    second = client.get(next_url).text
    # 30 made here + 4 made for alice by the fixture: 9 on the second page.
    assert second.count('class="badge badge-neutral">api_key.created<') == 9
    assert "Page 2" in second and "key 04" in second and 'rel="next"' not in second
    prev_url = link(second, "prev")
    assert client.get(prev_url).text == first
