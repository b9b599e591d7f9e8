"""REST /api/v1/users and /api/v1/me."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cadenza.auth import Role, Scope
from cadenza.auth.errors import InvalidCredentials
from cadenza.auth.models import AuditEntry, User
from cadenza.bootstrap import Container
from cadenza.core.clock import FrozenClock
from tests.auth.factories import acting_as, make_member
from tests.conftest import Actors

NEW_USER = {"email": "dana@example.com", "name": "Dana", "password": "dana's long password", "role": "analyst"}


def _audit_count(container: Container) -> int:
    with container.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_create_then_get_list_update_delete(client: TestClient, actors: Actors, container: Container) -> None:
    headers = actors.alice.headers(Scope.ADMIN)

    created = client.post("/api/v1/users", json=NEW_USER, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    user_id = body["id"]
    assert {k: body[k] for k in ("email", "name", "role", "is_active", "last_login_at")} == {
        "email": "dana@example.com", "name": "Dana", "role": "analyst", "is_active": True, "last_login_at": None}
    assert "password" not in created.text and "dana's long password" not in created.text

    assert client.get(f"/api/v1/users/{user_id}", headers=headers).json() == body
    listed = client.get("/api/v1/users", headers=headers).json()
    assert [(u["email"], u["role"]) for u in listed["data"]] == [
        ("alice@acme.test", "owner"), ("bob@acme.test", "marketer"), ("dana@example.com", "analyst")]
    assert listed["next_cursor"] is None

    patched = client.patch(f"/api/v1/users/{user_id}", json={"role": "marketer", "name": "Dana S."}, headers=headers)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["role"], patched.json()["name"]) == ("marketer", "Dana S.")

    deleted = client.delete(f"/api/v1/users/{user_id}", headers=headers)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert client.get(f"/api/v1/users/{user_id}", headers=headers).status_code == 404


def test_users_page_by_page(client: TestClient, actors: Actors, container: Container) -> None:
    for n in range(3):
        container.access.create_user(actors.alice.principal, f"m{n}@example.com", "long enough pw", Role.ANALYST)
    headers = actors.alice.headers()
    first = client.get("/api/v1/users?limit=2", headers=headers).json()
    second = client.get(f"/api/v1/users?limit=2&cursor={first['next_cursor']}", headers=headers).json()
    third = client.get(f"/api/v1/users?limit=2&cursor={second['next_cursor']}", headers=headers).json()
    emails = [u["email"] for page in (first, second, third) for u in page["data"]]
    assert emails == ["alice@acme.test", "bob@acme.test", "m0@example.com", "m1@example.com", "m2@example.com"]
    assert third["next_cursor"] is None
    assert client.get("/api/v1/users?cursor=bogus!", headers=headers).status_code == 422
    assert client.get("/api/v1/users?limit=0", headers=headers).status_code == 422


def test_short_password_unknown_field_and_bad_role_are_422(client: TestClient, actors: Actors,
                                                           container: Container) -> None:
    headers = actors.alice.headers()
    for body in ({**NEW_USER, "password": "123456789"}, {**NEW_USER, "is_owner": True},
                 {**NEW_USER, "role": "root"}, {**NEW_USER, "email": "not-an-email"}):
        response = client.post("/api/v1/users", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    with container.db.read() as session:
        assert session.scalar(select(User.id).where(User.email == "dana@example.com")) is None


def test_duplicate_member_is_409(client: TestClient, actors: Actors) -> None:
    assert client.post("/api/v1/users", json=NEW_USER, headers=actors.alice.headers()).status_code == 201
    again = client.post("/api/v1/users", json={**NEW_USER, "role": "marketer"}, headers=actors.alice.headers())
    assert again.status_code == 409


def test_last_owner_is_409_on_demote_deactivate_and_delete(client: TestClient, actors: Actors,
                                                           container: Container) -> None:
    alice_id = actors.alice.principal.id
    before = _audit_count(container)
    with acting_as(client.app, actors.alice.principal):  # type: ignore[arg-type]
        for method, body in (("PATCH", {"role": "admin"}), ("PATCH", {"is_active": False}), ("DELETE", None)):
            response = client.request(method, f"/api/v1/users/{alice_id}", json=body)
            assert response.status_code == 409, (method, body, response.text)
            assert response.json()["type"].endswith("/last-owner")
        assert client.get(f"/api/v1/users/{alice_id}").json()["role"] == "owner"
    assert _audit_count(container) == before


def test_an_owner_hands_over_then_steps_down(client: TestClient, actors: Actors) -> None:
    alice_id = actors.alice.principal.id
    with acting_as(client.app, actors.alice.principal):  # type: ignore[arg-type]
        olga = client.post("/api/v1/users", json={**NEW_USER, "email": "olga@example.com", "role": "owner"}).json()
        assert olga["role"] == "owner"
        demoted = client.patch(f"/api/v1/users/{alice_id}", json={"role": "admin"})
    assert (demoted.status_code, demoted.json()["role"]) == (200, "admin")


def test_an_admin_user_cannot_create_an_owner(client: TestClient, actors: Actors, container: Container) -> None:
    admin = make_member(container, actors.alice.principal, "ada@example.com", Role.ADMIN)
    before = _audit_count(container)
    with acting_as(client.app, admin):  # type: ignore[arg-type]
        refused = client.post("/api/v1/users", json={**NEW_USER, "role": "owner"})
        allowed = client.post("/api/v1/users", json={**NEW_USER, "role": "admin"})
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/permission-denied")
    assert allowed.status_code == 201
    assert _audit_count(container) == before + 1


def test_admin_key_cannot_make_an_owner(client: TestClient, actors: Actors, container: Container) -> None:
    headers = actors.alice.headers(Scope.ADMIN)
    before = _audit_count(container)
    assert client.post("/api/v1/users", json={**NEW_USER, "role": "owner"}, headers=headers).status_code == 403
    bob_id = actors.bob.principal.id
    assert client.patch(f"/api/v1/users/{bob_id}", json={"role": "owner"}, headers=headers).status_code == 403
    assert _audit_count(container) == before


def test_unknown_user_is_404(client: TestClient, actors: Actors) -> None:
    headers = actors.alice.headers()
    assert client.get("/api/v1/users/999999", headers=headers).status_code == 404
    assert client.patch("/api/v1/users/999999", json={"name": "x"}, headers=headers).status_code == 404
    assert client.delete("/api/v1/users/999999", headers=headers).status_code == 404


def test_me_describes_a_key(client: TestClient, actors: Actors, container: Container) -> None:
    response = client.get("/api/v1/me", headers=actors.alice.headers(Scope.INGEST))
    assert response.status_code == 200, response.text
    body = response.json()
    key = next(k for k in container.access.list_api_keys(actors.alice.principal) if k.scope == "ingest")
    assert body == {
        "workspace": {"id": actors.alice.workspace_id, "name": "Acme", "slug": "acme"},
        "kind": "api_key", "id": key.id, "label": f"key {key.prefix} (ingest key)",
        "role": None, "scope": "ingest", "permissions": ["ingest"],
    }


def test_me_describes_a_signed_in_user(client: TestClient, actors: Actors, container: Container) -> None:
    token, _ = container.access.sign_in("bob@acme.test", actors.bob.password)
    response = client.get("/api/v1/me", headers={"Cookie": f"cadenza_session={token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["kind"], body["id"], body["label"], body["role"], body["scope"]) == (
        "user", actors.bob.principal.id, "bob@acme.test", "marketer", None)
    assert body["permissions"] == ["ingest", "read", "write"]
    assert body["workspace"]["slug"] == "acme"


def test_me_without_credentials_is_401(client: TestClient, actors: Actors) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer cdz_nope_nope"}).status_code == 401


def test_a_locked_out_member_shows_until_when_and_an_admin_unlocks_them(
        client: TestClient, actors: Actors, container: Container, clock: FrozenClock) -> None:
    for wait in (0, 0, 0, 5, 10):  # five failures from one network, each as soon as allowed
        clock.advance(seconds=wait)
        with pytest.raises(InvalidCredentials):
            container.access.sign_in(actors.bob.email, "not the password", client_ip="203.0.113.7")
    headers = actors.alice.headers(Scope.ADMIN)
    listed = {u["email"]: u for u in client.get("/api/v1/users", headers=headers).json()["data"]}
    bob = listed[actors.bob.email]
    assert listed[actors.alice.email]["sign_in_locked_until"] is None
    assert dt.datetime.fromisoformat(bob["sign_in_locked_until"]) == clock.now() + dt.timedelta(minutes=15)
    assert client.get(f"/api/v1/users/{bob['id']}", headers=headers).json() == bob
    assert client.post(f"/api/v1/users/{bob['id']}/unlock", headers=actors.bob.headers(Scope.WRITE)).status_code == 403

    unlocked = client.post(f"/api/v1/users/{bob['id']}/unlock", headers=headers)

    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json() == {**bob, "sign_in_locked_until": None}
    container.access.sign_in(actors.bob.email, actors.bob.password, client_ip="203.0.113.7")
    assert client.post("/api/v1/users/999999/unlock", headers=headers).status_code == 404
