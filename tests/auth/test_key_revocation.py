"""Revoking a key, deleting it or deactivating a user takes effect at once in every process.

Two containers (`other_process` in conftest.py), each with its own Database on the same database, stand
for two `cadenza serve` processes: what one changes, the other must refuse on its very next request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from cadenza.auth import Scope
from cadenza.auth.errors import InvalidApiKey
from cadenza.auth.models import ApiKey
from cadenza.bootstrap import Container
from cadenza.core.clock import FrozenClock
from cadenza.events.models import Event
from tests.conftest import Actors


@pytest.fixture
def other_client(other_process: Container) -> Iterator[TestClient]:
    from cadenza.web import create_server_app

    with TestClient(create_server_app(other_process)) as client:
        yield client


def _events(container: Container) -> int:
    with container.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def _track(client: TestClient, key: str, n: int) -> int:
    answer = client.post("/v1/track", json={"userId": "u1", "event": "Viewed", "messageId": f"m{n}"}, auth=(key, ""))
    return answer.status_code


def test_a_key_revoked_in_one_process_is_refused_by_the_next_ingest_request_in_another(
        container: Container, actors: Actors, other_client: TestClient) -> None:
    key, raw = container.access.create_api_key(actors.alice.principal, "site", Scope.INGEST)
    assert [_track(other_client, raw, n) for n in range(3)] == [200, 200, 200]  # known to the other process now
    container.access.revoke_api_key(actors.alice.principal, key.id)

    assert _track(other_client, raw, 3) == 401
    assert _events(container) == 3  # nothing written on refusal
    # A batch whose every message is refused still answers 401 for the key, not 400 for the messages.
    answer = other_client.post("/v1/batch", json={"batch": [{"type": "track"}]}, auth=(raw, ""))
    assert answer.status_code == 401
    # So does a key sent as the writeKey in the body.
    answer = other_client.post("/v1/track", json={"writeKey": raw, "userId": "u1", "event": "E"})
    assert answer.status_code == 401


def test_a_batch_of_only_refused_messages_still_confirms_a_key_the_process_knows(
        container: Container, actors: Actors, other_client: TestClient) -> None:
    key, raw = container.access.create_api_key(actors.alice.principal, "site", Scope.INGEST)
    assert _track(other_client, raw, 0) == 200  # known to the other process now: no read to identify it
    container.access.revoke_api_key(actors.alice.principal, key.id)

    # No message is valid, so no group transaction confirms the key: the request confirms it itself.
    answer = other_client.post("/v1/batch", json={"batch": [{"type": "track"}]}, auth=(raw, ""))

    assert answer.status_code == 401


def test_a_key_revoked_through_the_api_of_one_process_is_refused_by_the_rest_api_of_another(
        client: TestClient, container: Container, actors: Actors, other_client: TestClient) -> None:
    key, raw = container.access.create_api_key(actors.alice.principal, "reporting", Scope.READ)
    headers = {"Authorization": f"Bearer {raw}"}
    assert other_client.get("/api/v1/contacts", headers=headers).status_code == 200
    assert client.delete(f"/api/v1/api-keys/{key.id}", headers=actors.alice.headers()).status_code == 200

    answer = other_client.get("/api/v1/contacts", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "The API key is unknown or revoked."


def test_a_deleted_key_is_refused_by_another_process(container: Container, actors: Actors,
                                                    other_process: Container, other_client: TestClient) -> None:
    key, raw = container.access.create_api_key(actors.alice.principal, "site", Scope.WRITE)
    assert other_process.access.authenticate_api_key(raw).id == key.id
    assert _track(other_client, raw, 0) == 200
    with container.db.transaction() as session:
        session.execute(delete(ApiKey).where(ApiKey.id == key.id))

    with pytest.raises(InvalidApiKey):
        other_process.access.authenticate_api_key(raw)
    assert _track(other_client, raw, 1) == 401
    assert other_client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_a_deactivated_user_is_signed_out_of_every_process_at_once(container: Container, actors: Actors,
                                                                   other_process: Container) -> None:
    token, _ = other_process.access.sign_in(actors.bob.email, actors.bob.password)
    assert other_process.access.resolve_session(token) is not None
    container.access.update_member(actors.alice.principal, actors.bob.principal.id or 0, is_active=False)

    assert other_process.access.resolve_session(token) is None


def test_last_use_is_written_at_most_once_a_minute_per_process(container: Container, actors: Actors,
                                                               clock: FrozenClock) -> None:
    key, raw = container.access.create_api_key(actors.alice.principal, "site", Scope.INGEST)
    first = clock.now()
    for _ in range(5):
        container.access.identify_api_key(raw)
        clock.advance(seconds=10)
    assert _last_used(container, key.id) == first
    clock.advance(seconds=20)  # 70 s after the first use
    container.access.authenticate_api_key(raw)
    assert _last_used(container, key.id) == first + dt.timedelta(seconds=70)


def _last_used(container: Container, key_id: int) -> dt.datetime | None:
    with container.db.read() as session:
        return session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))
