"""REST: /api/v1/duplicates (list, dismiss), /api/v1/duplicates/scans (background scans) and
/api/v1/contacts/{id}/merge."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cadenza.auth import Scope
from cadenza.bootstrap import Container
from cadenza.contacts.models import Contact, ContactMerge, ContactTag, DuplicateScan
from cadenza.storage.models import Job
from cadenza.workers.loop import Worker
from tests.conftest import Actors


def add(container: Container, workspace_id: int, *, tags: tuple[str, ...] = (), **values: Any) -> int:
    now = container.clock.now()
    with container.db.transaction() as session:
        contact = Contact(workspace_id=workspace_id, attributes={}, created_at=now, updated_at=now, **values)
        session.add(contact)
        session.flush()
        session.add_all([ContactTag(workspace_id=workspace_id, contact_id=contact.id, tag=t) for t in tags])
        return contact.id


def test_scan_list_and_dismiss(client: TestClient, container: Container, actors: Actors) -> None:
    ws = actors.alice.workspace_id
    ada = add(container, ws, email="ada@example.com", phone="+442079460958")
    twin = add(container, ws, email="lovelace@example.org", phone="+442079460958")
    write, read = actors.alice.headers(Scope.WRITE), actors.alice.headers(Scope.READ)

    started = client.post("/api/v1/duplicates/scans", headers=write)
    assert client.get("/api/v1/duplicates", headers=read).json()["data"] == []  # nothing yet: it is queued
    Worker(container).run_once()
    scan = client.get(started.headers["Location"], headers=read).json()
    listed = client.get("/api/v1/duplicates", headers=read).json()
    dismissed = client.post(f"/api/v1/duplicates/{listed['data'][0]['id']}/dismiss", headers=write)

    assert (started.status_code, started.json()["status"], started.json()["pairs_found"]) == (202, "queued", 0)
    assert started.headers["Location"] == f"/api/v1/duplicates/scans/{started.json()['id']}"
    assert (scan["status"], scan["pairs_found"], scan["contacts_done"], scan["percent"], scan["error"]) == (
        "done", 1, 2 + 0 + 0, 100, None)  # two phones; no +tag emails; no names
    pair = listed["data"][0]
    assert (pair["reason"], pair["score"], pair["status"]) == ("phone", 1.0, "open")
    assert (pair["contact"]["id"], pair["contact"]["email"], pair["other_contact"]["id"]) == (
        ada, "ada@example.com", twin)
    assert (dismissed.status_code, dismissed.json()["status"], dismissed.json()["other_contact"]["id"]) == (
        200, "dismissed", twin)
    assert client.get("/api/v1/duplicates", headers=read).json() == {"data": [], "next_cursor": None}
    assert len(client.get("/api/v1/duplicates?status=dismissed", headers=read).json()["data"]) == 1
    assert client.post(f"/api/v1/duplicates/{pair['id']}/dismiss", headers=write).status_code == 409


def test_merge_through_the_api(client: TestClient, container: Container, actors: Actors) -> None:
    ws = actors.alice.workspace_id
    ada = add(container, ws, email="ada@example.com", tags=("vip",))
    twin = add(container, ws, email="lovelace@example.org", first_name="Ada", tags=("beta",))

    answer = client.post(f"/api/v1/contacts/{ada}/merge", headers=actors.alice.headers(Scope.WRITE),
                         json={"merge_contact_id": twin})

    assert answer.status_code == 200
    body = answer.json()
    assert (body["survivor_id"], body["merged_contact_id"]) == (ada, twin)
    assert body["actor_label"].startswith("key cdz_") and body["actor_label"].endswith(" (write key)")
    assert body["moved"] == {"events": 0, "identities": 0, "tags": 1, "duplicate_candidates": 0,
                             "filled_fields": ["first_name"]}
    assert body["merged_snapshot"]["email"] == "lovelace@example.org"
    with container.db.read() as session:
        assert session.execute(select(Contact.id, Contact.first_name)).all() == [(ada, "Ada")]


def test_merge_refusals(client: TestClient, container: Container, actors: Actors) -> None:
    ada = add(container, actors.alice.workspace_id, email="ada@example.com")
    theirs = add(container, actors.charlie.workspace_id, email="ada@example.com")
    write = actors.alice.headers(Scope.WRITE)

    itself = client.post(f"/api/v1/contacts/{ada}/merge", headers=write, json={"merge_contact_id": ada})
    across = client.post(f"/api/v1/contacts/{ada}/merge", headers=write, json={"merge_contact_id": theirs})
    reader = client.post(f"/api/v1/contacts/{ada}/merge", headers=actors.alice.headers(Scope.READ),
                         json={"merge_contact_id": theirs})
    extra = client.post(f"/api/v1/contacts/{ada}/merge", headers=write, json={"merge_contact_id": 2, "x": 1})

    assert (itself.status_code, itself.json()["detail"]) == (422, "A contact cannot be merged into itself.")
    assert (across.status_code, across.json()["detail"]) == (404, f"No contact {theirs} in this workspace.")
    assert reader.status_code == 403
    assert extra.status_code == 422
    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 2
        assert session.scalar(select(func.count()).select_from(ContactMerge)) == 0


def test_a_second_scan_request_while_one_runs_gets_the_running_one(client: TestClient, container: Container,
                                                                   actors: Actors) -> None:
    write = actors.alice.headers(Scope.WRITE)

    first = client.post("/api/v1/duplicates/scans", headers=write)
    second = client.post("/api/v1/duplicates/scans", headers=write)
    theirs = client.post("/api/v1/duplicates/scans", headers=actors.charlie.headers(Scope.WRITE))
    Worker(container).run_once()
    after = client.post("/api/v1/duplicates/scans", headers=write)

    assert (first.status_code, second.status_code, after.status_code) == (202, 202, 202)
    assert second.json()["id"] == first.json()["id"]
    assert theirs.json()["id"] != first.json()["id"]  # one per workspace, not one in all
    assert after.json()["id"] not in (first.json()["id"], theirs.json()["id"])
    listed = client.get("/api/v1/duplicates/scans", headers=write).json()["data"]
    assert [(s["id"], s["status"]) for s in listed] == [(after.json()["id"], "queued"), (first.json()["id"], "done")]
    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Job).where(Job.kind == "contacts.duplicate_scan")) == 3


def test_a_failing_scan_shows_its_error_retries_and_fails_after_its_last_attempt(
        client: TestClient, container: Container, actors: Actors, monkeypatch: pytest.MonkeyPatch) -> None:
    write = actors.alice.headers(Scope.WRITE)
    add(container, actors.alice.workspace_id, phone="+442079460958")

    def broken(*_args: Any, **_kwargs: Any) -> int:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(container.duplicates, "scan_workspace", broken)
    scan_id = client.post("/api/v1/duplicates/scans", headers=write).json()["id"]
    seen = []
    for _attempt in range(3):
        Worker(container).run_once()
        body = client.get(f"/api/v1/duplicates/scans/{scan_id}", headers=write).json()
        seen.append((body["status"], body["error"]))
        container.clock.advance(hours=1)  # type: ignore[attr-defined]

    error = "RuntimeError: the database went away"
    assert seen == [("queued", error), ("queued", error), ("failed", error)]
    assert client.post("/api/v1/duplicates/scans", headers=write).json()["id"] != scan_id  # a new one may start


def test_a_scan_can_be_cancelled_and_a_scan_whose_job_was_cancelled_shows_it(
        client: TestClient, container: Container, actors: Actors) -> None:
    write = actors.alice.headers(Scope.WRITE)
    first = client.post("/api/v1/duplicates/scans", headers=write).json()
    cancelled = client.post(f"/api/v1/duplicates/scans/{first['id']}/cancel", headers=write)
    again = client.post(f"/api/v1/duplicates/scans/{first['id']}/cancel", headers=write)
    second = client.post("/api/v1/duplicates/scans", headers=write).json()
    job_cancelled = client.post(f"/api/v1/jobs/{second['job_id']}/cancel", headers=actors.alice.headers())

    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert again.status_code == 409
    assert job_cancelled.status_code == 200
    assert client.get(f"/api/v1/duplicates/scans/{second['id']}", headers=write).json()["status"] == "cancelled"
    third = client.post("/api/v1/duplicates/scans", headers=write).json()
    assert third["id"] not in (first["id"], second["id"])
    Worker(container).run_once()
    with container.db.read() as session:
        statuses = dict(session.execute(select(DuplicateScan.id, DuplicateScan.status)).all())
    assert statuses == {first["id"]: "cancelled", second["id"]: "cancelled", third["id"]: "done"}


def test_duplicates_need_their_permissions(client: TestClient, container: Container, actors: Actors) -> None:
    assert client.post("/api/v1/duplicates/scans", headers=actors.alice.headers(Scope.READ)).status_code == 403
    assert client.get("/api/v1/duplicates/scans", headers=actors.alice.headers(Scope.INGEST)).status_code == 403
    assert client.get("/api/v1/duplicates", headers=actors.alice.headers(Scope.INGEST)).status_code == 403
    assert client.get("/api/v1/duplicates").status_code == 401


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_imports_duplicates_and_merge_conform_to_their_schema(app: Any, container: Container, actors: Actors,
                                                              mode: str) -> None:
    """Schemathesis on every JSON route of /imports, /duplicates and the merge: no 5xx, documented answers."""
    import schemathesis
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import negative_data_rejection

    from tests.api.schema_checks import checks_for, run_operation

    ws = actors.alice.workspace_id
    add(container, ws, email="ada@example.com", phone="+442079460958")
    add(container, ws, email="twin@example.com", phone="+442079460958")
    container.duplicates.find_duplicates(actors.alice.principal)
    generation = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
    checks = checks_for(generation)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(tag=["imports", "duplicates"])
    operations = [result.ok() for result in schema.get_all_operations()
                  if not result.ok().path.endswith("errors.csv")]
    assert len(operations) == 14
    for operation in operations:
        # Any bytes are a file: a "file" made of JSON is not invalid data for an upload.
        operation_checks = [c for c in checks if c is not negative_data_rejection or operation.method == "get"
                            or "/imports" not in operation.path or "{import_id}" in operation.path]

        try:
            run_operation(operation, generation, actors.alice.headers(Scope.WRITE), max_examples=25,
                          checks=operation_checks)
        except Unsatisfiable:  # nothing to make invalid (e.g. POST /duplicates/scans takes no input)
            assert generation is GenerationMode.NEGATIVE
