"""REST /api/v1/api-keys: shown once, stored as a digest, revoked at once."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from cadenza.auth import Scope
from cadenza.auth.models import ApiKey
from cadenza.bootstrap import Container
from cadenza.schema import schema_metadata
from tests.conftest import Actors


def _database_text(container: Container) -> str:
    """Every value of every row of every table, as one string."""
    parts: list[str] = []
    with container.db.read() as session:
        for table in schema_metadata().sorted_tables:
            for row in session.execute(select(table)):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


def test_key_is_shown_once_and_stored_as_sha256_only(client: TestClient, actors: Actors,
                                                     container: Container) -> None:
    response = client.post("/api/v1/api-keys", json={"name": "website", "scope": "ingest"},
                           headers=actors.alice.headers())
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    raw = body["key"]
    assert raw.startswith(body["prefix"] + "_") and body["prefix"].startswith("cdz_")
    assert {k: body[k] for k in ("name", "scope", "last_used_at", "revoked_at")} == {
        "name": "website", "scope": "ingest", "last_used_at": None, "revoked_at": None}

    stored = _database_text(container)
    assert raw not in stored
    assert raw.split("_", 2)[2] not in stored  # not even the secret part
    assert hashlib.sha256(raw.encode()).hexdigest() in stored

    listed = client.get("/api/v1/api-keys", headers=actors.alice.headers()).json()
    assert listed["data"][0]["id"] == body["id"]
    assert raw not in str(listed)
    assert all("key" not in item for item in listed["data"])
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).json()["scope"] == "ingest"


def test_idempotent_retry_of_key_creation_never_stores_or_replays_the_key(
        client: TestClient, actors: Actors, container: Container) -> None:
    headers = {**actors.alice.headers(), "Idempotency-Key": "make-ci-key"}
    first = client.post("/api/v1/api-keys", json={"name": "ci", "scope": "write"}, headers=headers)
    assert first.status_code == 201
    retry = client.post("/api/v1/api-keys", json={"name": "ci", "scope": "write"}, headers=headers)
    assert retry.status_code == 409
    assert first.json()["key"] not in retry.text
    assert first.json()["key"] not in _database_text(container)
    with container.db.read() as session:
        assert list(session.scalars(select(ApiKey.name).where(ApiKey.name == "ci"))) == ["ci"]


def test_revoked_key_stops_working_at_once(client: TestClient, actors: Actors) -> None:
    created = client.post("/api/v1/api-keys", json={"name": "ci", "scope": "read"},
                          headers=actors.alice.headers()).json()
    key_headers = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/api/v1/me", headers=key_headers).status_code == 200  # cached from here on

    revoked = client.delete(f"/api/v1/api-keys/{created['id']}", headers=actors.alice.headers())
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    refused = client.get("/api/v1/me", headers=key_headers)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/invalid-api-key")
    basic = client.get("/api/v1/me", auth=(created["key"], ""))
    assert basic.status_code == 401


def test_a_key_can_revoke_itself(client: TestClient, actors: Actors) -> None:
    created = client.post("/api/v1/api-keys", json={"name": "self", "scope": "admin"},
                          headers=actors.alice.headers()).json()
    own = {"Authorization": f"Bearer {created['key']}"}
    assert client.delete(f"/api/v1/api-keys/{created['id']}", headers=own).status_code == 200
    assert client.get("/api/v1/api-keys", headers=own).status_code == 401


def test_bad_scope_or_name_is_422(client: TestClient, actors: Actors, container: Container) -> None:
    with container.db.read() as session:
        before = session.execute(text("SELECT count(*) FROM api_keys")).scalar()
    for body in ({"name": "x", "scope": "root"}, {"name": "", "scope": "read"}, {"scope": "read"},
                 {"name": "nul\u0000", "scope": "read"},
                 {"name": "x", "scope": "read", "key": "cdz_chosen_by_me"}):
        assert client.post("/api/v1/api-keys", json=body, headers=actors.alice.headers()).status_code == 422, body
    with container.db.read() as session:
        assert session.execute(text("SELECT count(*) FROM api_keys")).scalar() == before


def test_keys_page_newest_first(client: TestClient, actors: Actors) -> None:
    headers = actors.alice.headers()
    first = client.get("/api/v1/api-keys?limit=3", headers=headers).json()
    second = client.get(f"/api/v1/api-keys?limit=3&cursor={first['next_cursor']}", headers=headers).json()
    ids = [k["id"] for k in first["data"] + second["data"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(Scope)
    assert second["next_cursor"] is None


def test_unknown_key_is_404(client: TestClient, actors: Actors) -> None:
    assert client.delete("/api/v1/api-keys/999999", headers=actors.alice.headers()).status_code == 404
