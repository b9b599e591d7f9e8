"""REST /api/v1/imports: upload, preview, follow, errors (JSON and CSV), cancel, retry, permissions."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cadenza.auth import Scope
from cadenza.bootstrap import Container
from cadenza.contacts.importing import JOB_KIND
from cadenza.contacts.models import Contact, ContactImport
from cadenza.storage.models import Job
from cadenza.storage.queue import ClaimedJob
from tests.conftest import Actors

CSV = ("E-mail,First Name,Mobile,Notes\n"
       "ada@example.com,Ada,+44 20 7946 0958,=cmd()\n"
       "nope,Bob,,\n"
       "grace@example.com,Grace,020 7946 0000,\n")


def upload(client: TestClient, headers: dict[str, str], data: str = CSV, **form: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/imports", headers=headers, files={"file": ("people.csv", data.encode(), "text/csv")},
                       data=form)


def run_queued_jobs(container: Container) -> int:
    """What a worker would do: call the handler of each queued import job (directly, no worker)."""
    with container.db.read() as session:
        jobs = list(session.scalars(select(Job).where(Job.kind == JOB_KIND, Job.status == "queued")))
    for job in jobs:
        container.jobs.handlers[JOB_KIND](ClaimedJob(id=job.id, workspace_id=job.workspace_id, kind=job.kind,
                                                     payload=dict(job.payload), attempts=1, max_attempts=5,
                                                     key=job.key))
    return len(jobs)


def test_an_upload_is_queued_then_run_by_its_job(client: TestClient, container: Container, actors: Actors) -> None:
    headers = actors.alice.headers(Scope.WRITE)

    answer = upload(client, headers, mapping=json.dumps({"Notes": "attributes.notes"}), default_region="GB")

    assert answer.status_code == 202
    created = answer.json()
    assert (created["status"], created["filename"], created["bytes_total"], created["default_region"]) == (
        "pending", "people.csv", len(CSV.encode()), "GB")
    assert created["mapping"] == {"E-mail": "email", "First Name": "first_name", "Mobile": "phone",
                                  "Notes": "attributes.notes"}
    assert run_queued_jobs(container) == 1

    done = client.get(f"/api/v1/imports/{created['id']}", headers=actors.alice.headers(Scope.READ)).json()
    assert {k: done[k] for k in ("status", "rows_total", "rows_created", "rows_updated", "rows_skipped",
                                 "rows_failed", "bytes_done")} == {
        "status": "done", "rows_total": 3, "rows_created": 2, "rows_updated": 0, "rows_skipped": 0,
        "rows_failed": 1, "bytes_done": len(CSV.encode())}
    with container.db.read() as session:
        phones = session.execute(select(Contact.email, Contact.phone, Contact.attributes).order_by(Contact.id)).all()
    assert phones == [("ada@example.com", "+442079460958", {"notes": "=cmd()"}),
                      ("grace@example.com", "+442079460000", {})]


def test_errors_come_as_json_pages_and_as_an_escaped_csv(client: TestClient, container: Container,
                                                         actors: Actors) -> None:
    data = "email,name\n=1+1,x\nok@example.com,y\n@bad,z\n"
    import_id = upload(client, actors.alice.headers(Scope.WRITE), data).json()["id"]
    run_queued_jobs(container)
    headers = actors.alice.headers(Scope.READ)

    first = client.get(f"/api/v1/imports/{import_id}/errors?limit=1", headers=headers).json()
    rest = client.get(f"/api/v1/imports/{import_id}/errors?limit=1&cursor={first['next_cursor']}",
                      headers=headers).json()
    report = client.get(f"/api/v1/imports/{import_id}/errors.csv", headers=headers)

    assert first["data"] == [{"line": 2, "column": "email", "message": "email An email address must have an @-sign.",
                              "raw": "=1+1,x"}]
    assert [e["line"] for e in rest["data"]] == [4] and rest["next_cursor"] is None
    assert report.status_code == 200 and report.headers["content-type"] == "text/csv; charset=utf-8"
    assert report.headers["content-disposition"] == f'attachment; filename="import-{import_id}-errors.csv"'
    assert report.text.split("\r\n") == [
        "line,column,message,row",
        "2,email,email An email address must have an @-sign.,\"'=1+1,x\"",
        "4,email,email There must be something before the @-sign.,\"'@bad,z\"",
        "",
    ]


def test_preview_stores_nothing(client: TestClient, container: Container, actors: Actors) -> None:
    answer = client.post("/api/v1/imports/preview", headers=actors.alice.headers(Scope.WRITE),
                         files={"file": ("p.csv", "a;b;Last Name\nx@example.com;1;L\n".encode("latin-1"))})

    assert answer.status_code == 200
    assert answer.json() == {
        "filename": "p.csv", "encoding": "utf-8", "delimiter": ";", "headers": ["a", "b", "Last Name"],
        "rows": [{"line": 2, "cells": {"a": "x@example.com", "b": "1", "Last Name": "L"}, "error": None}],
        "mapping": {"a": "ignore", "b": "ignore", "Last Name": "last_name"},
        "targets": ["email", "first_name", "last_name", "phone", "company", "external_id", "tags", "timezone",
                    "ignore"],
    }
    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ContactImport)) == 0


def test_a_bad_mapping_is_a_422_naming_the_column(client: TestClient, container: Container, actors: Actors) -> None:
    headers = actors.alice.headers(Scope.WRITE)

    not_json = upload(client, headers, mapping="{oops")
    unknown = upload(client, headers, mapping=json.dumps({"Notes": "field:nope"}))

    assert not_json.status_code == 422
    assert not_json.json()["errors"] == [{"field": "mapping", "message": "is not a JSON object of strings"}]
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["errors"] == [{"field": "mapping.Notes", "message": "there is no custom field 'nope'"}]
    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ContactImport)) == 0


def test_list_cancel_and_retry(client: TestClient, container: Container, actors: Actors) -> None:
    write = actors.alice.headers(Scope.WRITE)
    first = upload(client, write).json()["id"]
    second = upload(client, write).json()["id"]

    cancelled = client.post(f"/api/v1/imports/{second}/cancel", headers=write)
    again = client.post(f"/api/v1/imports/{second}/cancel", headers=write)
    retried = client.post(f"/api/v1/imports/{second}/retry", headers=write)
    listed = client.get("/api/v1/imports?limit=1", headers=write).json()
    following = client.get(f"/api/v1/imports?limit=1&cursor={listed['next_cursor']}", headers=write).json()

    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert again.status_code == 409
    assert (retried.status_code, retried.json()["status"]) == (200, "pending")
    assert [i["id"] for i in listed["data"]] + [i["id"] for i in following["data"]] == [second, first]
    assert run_queued_jobs(container) == 3  # both uploads, and the retry (the cancelled upload's job does nothing)
    outcomes = [client.get(f"/api/v1/imports/{i}", headers=write).json() for i in (first, second)]
    assert [(o["status"], o["rows_created"], o["rows_skipped"], o["rows_failed"]) for o in outcomes] == [
        ("done", 1, 0, 2), ("done", 0, 1, 2)]  # no region: Grace's national number fails both times
    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_a_read_key_reads_but_cannot_import_or_control(client: TestClient, container: Container,
                                                       actors: Actors) -> None:
    import_id = upload(client, actors.alice.headers(Scope.WRITE)).json()["id"]
    read = actors.alice.headers(Scope.READ)

    assert upload(client, read).status_code == 403
    preview = client.post("/api/v1/imports/preview", headers=read, files={"file": ("p.csv", b"email\n")})
    assert preview.status_code == 403
    assert client.post(f"/api/v1/imports/{import_id}/cancel", headers=read).status_code == 403
    assert client.get(f"/api/v1/imports/{import_id}", headers=read).status_code == 200
    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ContactImport)) == 1


def test_another_workspace_gets_404s(client: TestClient, container: Container, actors: Actors) -> None:
    import_id = upload(client, actors.alice.headers(Scope.WRITE)).json()["id"]
    charlie = actors.charlie.headers(Scope.WRITE)

    for method, path in (("get", ""), ("get", "/errors"), ("get", "/errors.csv"), ("post", "/cancel"),
                         ("post", "/retry")):
        answer = getattr(client, method)(f"/api/v1/imports/{import_id}{path}", headers=charlie)
        assert answer.status_code == 404, path
        assert answer.json()["title"] == "Import not found"
    assert client.get("/api/v1/imports", headers=charlie).json() == {"data": [], "next_cursor": None}
    assert client.get(f"/api/v1/imports/{import_id}").status_code == 401
