"""A browser session may use the REST API, but may change data only with its CSRF token."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cadenza.api.deps import CSRF_HEADER, SESSION_COOKIE
from cadenza.auth.models import ApiKey
from cadenza.bootstrap import Container
from tests.conftest import Actors


def _sign_in(client: TestClient, container: Container, actors: Actors) -> str:
    token, signed_in = container.access.sign_in(actors.alice.email, actors.alice.password)
    client.cookies.set(SESSION_COOKIE, token)
    return signed_in.csrf_token


def _key_count(container: Container) -> int:
    with container.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(ApiKey)) or 0)


def test_a_session_reads_the_api_without_a_token(client: TestClient, container: Container, actors: Actors) -> None:
    _sign_in(client, container, actors)
    assert client.get("/api/v1/api-keys").status_code == 200


def test_a_session_write_without_the_csrf_header_is_refused_and_writes_nothing(
    client: TestClient, container: Container, actors: Actors
) -> None:
    _sign_in(client, container, actors)
    before = _key_count(container)

    response = client.post("/api/v1/api-keys", json={"name": "sneaky", "scope": "admin"})
    wrong = client.post("/api/v1/api-keys", json={"name": "sneaky", "scope": "admin"},
                        headers={CSRF_HEADER: "not-the-token"})

    assert (response.status_code, wrong.status_code) == (403, 403)
    assert response.json()["title"] == "CSRF check failed"
    assert _key_count(container) == before


def test_a_session_write_with_the_csrf_header_works(client: TestClient, container: Container, actors: Actors) -> None:
    csrf = _sign_in(client, container, actors)
    before = _key_count(container)

    response = client.post("/api/v1/api-keys", json={"name": "from the browser", "scope": "read"},
                           headers={CSRF_HEADER: csrf})

    assert response.status_code == 201
    assert _key_count(container) == before + 1
