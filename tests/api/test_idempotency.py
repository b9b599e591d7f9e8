"""`Idempotency-Key` on POSTs under /api/v1: replayed answers, conflicts, 5xx, workspaces, secrets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel

from cadenza.api import create_app
from cadenza.api.deps import can_write
from cadenza.auth import Principal, Scope
from cadenza.bootstrap import Container
from tests.conftest import Actors


class Note(BaseModel):
    text: str


def _test_router(calls: list[tuple[str, int]]) -> APIRouter:
    """A test-only POST route that counts how often it runs."""
    router = APIRouter()
    fail_first: set[str] = set()

    @router.post("/_test/notes", status_code=201)
    def create_note(note: Note, principal: Principal = Depends(can_write)) -> dict[str, object]:
        calls.append((note.text, principal.workspace_id))
        return {"n": len(calls), "text": note.text, "workspace_id": principal.workspace_id}

    @router.post("/_test/flaky")
    def flaky(note: Note, principal: Principal = Depends(can_write)) -> JSONResponse:
        calls.append((note.text, principal.workspace_id))
        if note.text not in fail_first:
            fail_first.add(note.text)
            return JSONResponse({"error": "upstream down"}, status_code=503)
        return JSONResponse({"n": len(calls)}, status_code=201)

    return router


@pytest.fixture
def calls() -> list[tuple[str, int]]:
    return []


@pytest.fixture
def api(container: Container, calls: list[tuple[str, int]]) -> Iterator[TestClient]:
    app: FastAPI = create_app(container)
    app.include_router(_test_router(calls), prefix="/api/v1")
    with TestClient(app) as client:
        yield client


def post(api: TestClient, path: str, body: dict[str, object], headers: dict[str, str], key: str | None):
    extra = {"Idempotency-Key": key} if key is not None else {}
    return api.post(f"/api/v1{path}", json=body, headers={**headers, **extra})


def test_a_retry_with_the_same_key_gets_the_same_answer_and_runs_nothing(
        api: TestClient, actors: Actors, calls: list[tuple[str, int]]) -> None:
    headers = actors.alice.headers(Scope.WRITE)
    first = post(api, "/_test/notes", {"text": "hello"}, headers, "key-1")
    again = post(api, "/_test/notes", {"text": "hello"}, headers, "key-1")

    assert (first.status_code, first.json()) == (201, {"n": 1, "text": "hello",
                                                       "workspace_id": actors.alice.workspace_id})
    assert "idempotent-replayed" not in first.headers
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert calls == [("hello", actors.alice.workspace_id)]


def test_the_same_key_with_another_body_is_a_conflict(api: TestClient, actors: Actors,
                                                      calls: list[tuple[str, int]]) -> None:
    headers = actors.alice.headers(Scope.WRITE)
    post(api, "/_test/notes", {"text": "hello"}, headers, "key-1")
    other = post(api, "/_test/notes", {"text": "goodbye"}, headers, "key-1")

    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["detail"] == "This Idempotency-Key was already used for a different request."
    assert len(calls) == 1


def test_a_server_error_is_not_stored_so_the_retry_runs(api: TestClient, actors: Actors,
                                                        calls: list[tuple[str, int]]) -> None:
    headers = actors.alice.headers(Scope.WRITE)
    first = post(api, "/_test/flaky", {"text": "x"}, headers, "key-1")
    retry = post(api, "/_test/flaky", {"text": "x"}, headers, "key-1")
    replay = post(api, "/_test/flaky", {"text": "x"}, headers, "key-1")

    assert [first.status_code, retry.status_code, replay.status_code] == [503, 201, 201]
    assert "idempotent-replayed" not in retry.headers
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(calls) == 2


def test_an_error_answer_is_replayed_as_problem_json(api: TestClient, actors: Actors,
                                                     calls: list[tuple[str, int]]) -> None:
    headers = actors.alice.headers(Scope.WRITE)
    first = post(api, "/_test/notes", {"wrong": 1}, headers, "key-1")
    again = post(api, "/_test/notes", {"wrong": 1}, headers, "key-1")

    assert (first.status_code, again.status_code) == (422, 422)
    assert again.json() == first.json()
    assert again.headers["content-type"] == "application/problem+json"
    assert calls == []


def test_keys_belong_to_a_workspace(api: TestClient, actors: Actors, calls: list[tuple[str, int]]) -> None:
    alice = post(api, "/_test/notes", {"text": "hello"}, actors.alice.headers(Scope.WRITE), "shared-key")
    charlie = post(api, "/_test/notes", {"text": "hello"}, actors.charlie.headers(Scope.WRITE), "shared-key")

    assert alice.json()["workspace_id"] == actors.alice.workspace_id
    assert charlie.json()["workspace_id"] == actors.charlie.workspace_id
    assert "idempotent-replayed" not in charlie.headers
    assert calls == [("hello", actors.alice.workspace_id), ("hello", actors.charlie.workspace_id)]


def test_without_a_key_every_post_runs(api: TestClient, actors: Actors, calls: list[tuple[str, int]]) -> None:
    headers = actors.alice.headers(Scope.WRITE)
    post(api, "/_test/notes", {"text": "hello"}, headers, None)
    post(api, "/_test/notes", {"text": "hello"}, headers, None)

    assert len(calls) == 2


def test_a_key_longer_than_255_characters_is_refused(api: TestClient, actors: Actors,
                                                     calls: list[tuple[str, int]]) -> None:
    response = post(api, "/_test/notes", {"text": "hello"}, actors.alice.headers(Scope.WRITE), "k" * 256)

    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "Idempotency-Key"}]
    assert calls == []


def test_an_unauthenticated_post_with_a_key_is_a_401_and_stores_nothing(
        api: TestClient, actors: Actors, calls: list[tuple[str, int]]) -> None:
    bad = post(api, "/_test/notes", {"text": "hello"}, {"Authorization": "Bearer nope"}, "key-1")
    good = post(api, "/_test/notes", {"text": "hello"}, actors.alice.headers(Scope.WRITE), "key-1")

    assert (bad.status_code, good.status_code) == (401, 201)
    assert "idempotent-replayed" not in good.headers
    assert len(calls) == 1


def test_a_created_api_key_is_never_replayed(api: TestClient, actors: Actors) -> None:
    headers = actors.alice.headers(Scope.ADMIN)
    body = {"name": "CI", "scope": "read"}
    first = api.post("/api/v1/api-keys", json=body, headers={**headers, "Idempotency-Key": "new-key"})
    retry = api.post("/api/v1/api-keys", json=body, headers={**headers, "Idempotency-Key": "new-key"})

    assert first.status_code == 201 and first.json()["key"]
    assert retry.status_code == 409
    assert first.json()["key"] not in retry.text
    names = [k["name"] for k in api.get("/api/v1/api-keys", headers=headers).json()["data"]]
    assert names.count("CI") == 1


def test_an_api_key_is_read_once_for_a_post_with_an_idempotency_key(
        api: TestClient, actors: Actors, container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    authenticate = container.access.authenticate_api_key

    def counted(raw: str) -> Principal:
        seen.append(raw)
        return authenticate(raw)

    monkeypatch.setattr(container.access, "authenticate_api_key", counted)
    answer = post(api, "/_test/notes", {"text": "once"}, actors.alice.headers(Scope.WRITE), "key-once")

    assert answer.status_code == 201, answer.text
    assert len(seen) == 1
