"""REST /api/v1/jobs: a workspace sees and controls its own background work, and nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cadenza.api import create_app
from cadenza.auth import Scope
from cadenza.auth.models import AuditEntry
from cadenza.bootstrap import Container
from cadenza.core.clock import FrozenClock
from tests.conftest import Actors
from tests.storage.factories import job, make_job


@pytest.fixture
def api(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def failed_job(container: Container, workspace_id: int | None, error: str = "SMTP 451") -> int:
    job_id = make_job(container, "email.send", {"message_id": 7}, workspace_id=workspace_id, max_attempts=1)
    claimed = [j for j in container.queue.claim("w1", container.clock.now()) if j.id == job_id]
    container.queue.fail(claimed[0], error, container.clock.now())
    return job_id


def audit_actions(container: Container, workspace_id: int) -> list[tuple[str, str, dict[str, object]]]:
    with container.db.read() as session:
        return [(e.action, e.target_id, e.changes) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.workspace_id == workspace_id, AuditEntry.action.like("job.%"))
            .order_by(AuditEntry.id))]


def test_a_job_is_shown_with_its_status_attempts_and_error(api: TestClient, container: Container,
                                                           actors: Actors, clock: FrozenClock) -> None:
    job_id = failed_job(container, actors.alice.workspace_id)

    response = api.get(f"/api/v1/jobs/{job_id}", headers=actors.alice.headers(Scope.READ))

    assert response.status_code == 200
    assert response.json() == {
        "id": job_id, "kind": "email.send", "status": "failed", "key": None, "payload": {"message_id": 7},
        "attempts": 1, "max_attempts": 1, "due_at": "2026-01-01T12:00:00Z", "created_at": "2026-01-01T12:00:00Z",
        "finished_at": "2026-01-01T12:00:00Z", "last_error": "SMTP 451", "progress_done": 0, "progress_total": None,
    }


def test_a_workspace_lists_only_its_own_jobs_newest_first(api: TestClient, container: Container,
                                                          actors: Actors) -> None:
    ws = actors.alice.workspace_id
    ids = [make_job(container, "import.run", workspace_id=ws) for _ in range(3)]
    make_job(container, "import.run", workspace_id=actors.charlie.workspace_id)
    make_job(container, "system.probe")  # no workspace: never shown through the workspace API
    headers = actors.bob.headers(Scope.WRITE)

    first = api.get("/api/v1/jobs", params={"limit": 2}, headers=headers).json()
    second = api.get("/api/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers).json()

    assert [j["id"] for j in first["data"]] == [ids[2], ids[1]]
    assert ([j["id"] for j in second["data"]], second["next_cursor"]) == ([ids[0]], None)


@pytest.mark.parametrize("cursor", ["bogus!", "WzEsMl0", "WyJ4Il0"])  # not base64 JSON; [1, 2]; ["x"]
def test_a_cursor_this_server_did_not_issue_is_422(api: TestClient, actors: Actors, cursor: str) -> None:
    response = api.get("/api/v1/jobs", params={"cursor": cursor}, headers=actors.alice.headers(Scope.READ))

    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "cursor"}]


def test_jobs_are_filtered_by_status(api: TestClient, container: Container, actors: Actors) -> None:
    ws = actors.alice.workspace_id
    failed = failed_job(container, ws)
    make_job(container, workspace_id=ws)
    headers = actors.alice.headers(Scope.READ)

    listed = api.get("/api/v1/jobs", params={"status": "failed"}, headers=headers).json()
    bad = api.get("/api/v1/jobs", params={"status": "exploded"}, headers=headers)

    assert [j["id"] for j in listed["data"]] == [failed]
    assert bad.status_code == 422


def test_another_workspace_and_system_jobs_are_not_found(api: TestClient, container: Container,
                                                         actors: Actors) -> None:
    alice_job = failed_job(container, actors.alice.workspace_id)
    system_job = failed_job(container, None)
    headers = actors.charlie.headers(Scope.ADMIN)

    assert api.get(f"/api/v1/jobs/{alice_job}", headers=headers).status_code == 404
    assert api.get(f"/api/v1/jobs/{system_job}", headers=actors.alice.headers()).status_code == 404
    assert api.post(f"/api/v1/jobs/{alice_job}/retry", headers=headers).status_code == 404
    assert api.post(f"/api/v1/jobs/{alice_job}/cancel", headers=headers).status_code == 404
    assert job(container, alice_job).status == "failed"
    assert audit_actions(container, actors.alice.workspace_id) == []


def test_retry_queues_a_failed_job_again_and_is_audited(api: TestClient, container: Container,
                                                        actors: Actors, clock: FrozenClock) -> None:
    job_id = failed_job(container, actors.alice.workspace_id)
    clock.advance(minutes=30)

    response = api.post(f"/api/v1/jobs/{job_id}/retry", headers=actors.alice.headers(Scope.WRITE))

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["attempts"], body["due_at"], body["finished_at"], body["last_error"]) == (
        "queued", 0, "2026-01-01T12:30:00Z", None, "SMTP 451")
    assert audit_actions(container, actors.alice.workspace_id) == [
        ("job.retried", str(job_id), {"status": ["failed", "queued"], "kind": "email.send"})]


def test_retrying_a_job_that_has_not_failed_is_a_conflict(api: TestClient, container: Container,
                                                          actors: Actors) -> None:
    job_id = make_job(container, workspace_id=actors.alice.workspace_id)

    response = api.post(f"/api/v1/jobs/{job_id}/retry", headers=actors.alice.headers(Scope.WRITE))

    assert response.status_code == 409
    assert response.json()["detail"] == f"Job {job_id} is queued: only failed or cancelled jobs can be retried."
    assert audit_actions(container, actors.alice.workspace_id) == []


def test_cancel_stops_a_queued_job_and_is_audited(api: TestClient, container: Container, actors: Actors) -> None:
    job_id = make_job(container, "import.run", workspace_id=actors.alice.workspace_id)

    response = api.post(f"/api/v1/jobs/{job_id}/cancel", headers=actors.alice.headers(Scope.WRITE))
    again = api.post(f"/api/v1/jobs/{job_id}/cancel", headers=actors.alice.headers(Scope.WRITE))

    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert again.status_code == 409
    assert container.queue.claim("w1", container.clock.now()) == []
    assert audit_actions(container, actors.alice.workspace_id) == [
        ("job.cancelled", str(job_id), {"status": ["queued", "cancelled"], "kind": "import.run"})]


def test_a_read_only_key_cannot_retry_or_cancel(api: TestClient, container: Container, actors: Actors) -> None:
    failed = failed_job(container, actors.alice.workspace_id)
    queued = make_job(container, workspace_id=actors.alice.workspace_id)
    headers = actors.alice.headers(Scope.READ)

    assert api.post(f"/api/v1/jobs/{failed}/retry", headers=headers).status_code == 403
    assert api.post(f"/api/v1/jobs/{queued}/cancel", headers=headers).status_code == 403
    assert (job(container, failed).status, job(container, queued).status) == ("failed", "queued")
    assert audit_actions(container, actors.alice.workspace_id) == []


def test_jobs_need_an_api_key(api: TestClient) -> None:
    assert api.get("/api/v1/jobs").status_code == 401
