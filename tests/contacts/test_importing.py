"""The CSV import use cases: validation with line numbers, de-duplication, chunks, resume, cancel, retry."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cadenza.auth import Principal, Scope
from cadenza.auth.models import AuditEntry
from cadenza.bootstrap import Container
from cadenza.contacts import import_writer, importing
from cadenza.contacts.importing import CLEANUP_EVERY, CLEANUP_JOB_KIND, JOB_KIND, ImportNotFound
from cadenza.contacts.models import Company, Contact, ContactImport, ContactTag, CustomField, ImportRowError
from cadenza.core.clock import FrozenClock
from cadenza.core.errors import Conflict, PermissionDenied, ValidationFailed
from cadenza.storage.models import Job, OutboxMessage
from cadenza.storage.queue import ClaimedJob
from cadenza.workers.loop import Worker
from tests.conftest import Actors


def start(container: Container, principal: Principal, data: str | bytes, *, chunk: int = 2,
          mapping: dict[str, str] | None = None, update_existing: bool = True, region: str | None = None,
          background: bool = False) -> ContactImport:
    container.imports.chunk_size = chunk
    raw = data.encode() if isinstance(data, str) else data
    return container.imports.create_import(principal, "contacts.csv", io.BytesIO(raw), mapping, update_existing,
                                           default_region=region, run_in_background=background)


def run(container: Container, principal: Principal, data: str | bytes, **options: Any) -> ContactImport:
    return container.imports.run_import(start(container, principal, data, **options).id)


def counts(contact_import: ContactImport) -> tuple[str, int, int, int, int, int]:
    return (contact_import.status, contact_import.rows_total, contact_import.rows_created, contact_import.rows_updated,
            contact_import.rows_skipped, contact_import.rows_failed)


def people(container: Container, workspace_id: int) -> list[tuple[Any, ...]]:
    """(email, external_id, phone, first_name, last_name, company name, attributes, tags), by id."""
    with container.db.read() as session:
        rows = session.execute(
            select(Contact.id, Contact.email, Contact.external_id, Contact.phone, Contact.first_name,
                   Contact.last_name, Company.name, Contact.attributes)
            .outerjoin(Company, Company.id == Contact.company_id)
            .where(Contact.workspace_id == workspace_id).order_by(Contact.id)).all()
        tags: dict[int, list[str]] = {}
        for contact_id, tag in session.execute(select(ContactTag.contact_id, ContactTag.tag).order_by(ContactTag.tag)):
            tags.setdefault(contact_id, []).append(tag)
    return [(*row[1:7], dict(row[7] or {}), tags.get(row[0], [])) for row in rows]


def row_errors(container: Container, import_id: int) -> list[tuple[int, str | None, str]]:
    with container.db.read() as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(ImportRowError.line, ImportRowError.column, ImportRowError.message)
            .where(ImportRowError.import_id == import_id).order_by(ImportRowError.id))]


def add_contact(container: Container, workspace_id: int, **values: Any) -> int:
    now = container.clock.now()
    with container.db.transaction() as session:
        contact = Contact(workspace_id=workspace_id, attributes={}, created_at=now, updated_at=now, **values)
        session.add(contact)
        session.flush()
        return contact.id


def add_field(container: Container, workspace_id: int, key: str, type: str, options: list[str] | None = None, *,
              required: bool = False) -> None:
    with container.db.transaction() as session:
        session.add(CustomField(workspace_id=workspace_id, entity="contact", key=key, label=key.title(), type=type,
                                options=options or [], is_required=required, is_personal=False,
                                created_at=container.clock.now()))


def facts(container: Container) -> list[dict[str, Any]]:
    with container.db.read() as session:
        return [dict(p) for p in session.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.topic == "contact.changed").order_by(OutboxMessage.id))]


def count(container: Container, model: Any) -> int:
    with container.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


MIXED = (
    "Email,First Name,Last Name,Phone,Seats,Notes\n"
    "ada@example.com,Ada,Lovelace,+44 20 7946 0958,3,first\n"
    "grace@example,Grace,Hopper,,2,bad email\n"
    'alan@example.com,Alan,"Turing\nthe second",,many,bad number on line 4\n'
    "\n"
    "linus@example.com,Linus,Torvalds,12345,1,bad phone on line 7\n"
    "margaret@example.com,Margaret,Hamilton,,,last\n"
)


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "two-worker-processes"])
def test_good_rows_import_while_bad_rows_are_reported_with_their_line_numbers(container: Container,
                                                                              actors: Actors, workers: int) -> None:
    alice = actors.alice.principal
    add_field(container, alice.workspace_id, "seats", "number")
    container.settings.import_workers = workers
    container.imports.pool_min_bytes = 0  # even this small file goes to the worker processes

    done = run(container, alice, MIXED, region="GB")

    assert counts(done) == ("done", 5, 2, 0, 0, 3)
    assert people(container, alice.workspace_id) == [
        ("ada@example.com", None, "+442079460958", "Ada", "Lovelace", None, {"seats": 3}, []),
        ("margaret@example.com", None, None, "Margaret", "Hamilton", None, {}, []),
    ]
    assert row_errors(container, done.id) == [
        (3, "Email", "email The part after the @-sign is not valid. It should have a period."),
        (4, "Seats", "seats must be a number, got 'many'"),
        (7, "Phone", "phone is not a valid phone number"),
    ]
    assert (done.bytes_done, done.bytes_total, done.lines_done) == (len(MIXED.encode()), len(MIXED.encode()), 8)


def test_worker_processes_import_a_file_in_many_blocks_as_this_process_does(container: Container,
                                                                            actors: Actors) -> None:
    # Multi-line quoted cells, a quote alone in an unquoted cell (blocks after it may be cut inside a quoted
    # cell and read again in order), bad rows, and a later row updating an earlier one in another block.
    lines = ["email,first_name,last_name,tags"]
    for n in range(40):
        note = f'"line one\nline two {n}"' if n % 5 == 0 else ('6" tall' if n == 7 else f"plain {n}")
        email = "not-an-email" if n % 9 == 4 else f"p{n % 30}@example.com"
        lines.append(f"{email},First {n},{note},t{n % 3}")
    data = "\n".join(lines) + "\n"
    results = []
    for workers, workspace in ((0, actors.alice), (1, actors.charlie)):
        container.settings.import_workers = workers
        container.imports.pool_min_bytes = 0
        done = run(container, workspace.principal, data, chunk=3)
        results.append((counts(done), people(container, workspace.workspace_id), row_errors(container, done.id),
                        done.bytes_done, done.lines_done))

    in_process, in_workers = results
    assert in_workers == in_process
    assert in_process[0] == ("done", 40, 28, 8, 0, 4)
    assert in_process[3:] == (len(data.encode()), 49)


def test_the_raw_row_is_kept_for_the_report(container: Container, actors: Actors) -> None:
    done = run(container, actors.alice.principal, "email,name\nnope,Ada\n")

    with container.db.read() as session:
        raw = session.scalar(select(ImportRowError.raw).where(ImportRowError.import_id == done.id))
    assert raw == "nope,Ada"


def test_a_latin_1_file_imports_its_accents(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    data = "email;first_name;last_name\nm@example.com;Jürgen;Müller\nj@example.com;José;García\n".encode("latin-1")

    done = run(container, alice, data)

    assert (done.encoding, done.delimiter, done.status) == ("cp1252", ";", "done")
    assert [p[3:5] for p in people(container, alice.workspace_id)] == [("Jürgen", "Müller"), ("José", "García")]


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "worker-process"])
def test_a_mac_csv_with_lone_carriage_returns_imports_with_its_line_numbers(container: Container, actors: Actors,
                                                                            workers: int) -> None:
    # Spreadsheet programs on the Mac still offer "CSV (Macintosh)": Mac Roman is not read, its line ends are.
    alice = actors.alice.principal
    container.settings.import_workers = workers
    container.imports.pool_min_bytes = 0
    data = "email,first_name\rm@example.com,Marie\rnope,Bad\r\rj@example.com,\"Jo\rAnn\"\rk@example.com,Kai\r"

    preview = container.imports.preview(alice, io.BytesIO(data.encode()), "mac.csv")
    done = run(container, alice, data, chunk=2)

    assert [row.line for row in preview.rows] == [2, 3, 5, 7]
    assert counts(done) == ("done", 4, 3, 0, 0, 1)
    assert [p[0] + " " + p[3] for p in people(container, alice.workspace_id)] == [
        "m@example.com Marie", "j@example.com Jo\rAnn", "k@example.com Kai"]
    assert row_errors(container, done.id) == [(3, "email", "email An email address must have an @-sign.")]
    assert (done.bytes_done, done.lines_done) == (len(data), 7)


def test_rows_match_existing_contacts_by_email_then_external_id(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    ws = alice.workspace_id
    add_contact(container, ws, email="ada@example.com", first_name="Ada", last_name="Byron", phone="+442079460958")
    add_contact(container, ws, external_id="u-2", first_name="Grace")
    data = ("email,external id,last name,first name\n"
            "ADA@example.com,u-1,Lovelace,\n"  # by email: fills the external id, changes the last name
            ",u-2,Hopper,\n"  # by external id
            "grace@example.com,u-2,,\n"  # by external id, fills the email
            "new@example.com,,New,\n")

    done = run(container, alice, data)

    assert counts(done) == ("done", 4, 1, 3, 0, 0)
    assert people(container, ws) == [
        ("ada@example.com", "u-1", "+442079460958", "Ada", "Lovelace", None, {}, []),
        ("grace@example.com", "u-2", None, "Grace", "Hopper", None, {}, []),
        ("new@example.com", None, None, None, "New", None, {}, []),
    ]
    assert [sorted(f["fields"]) for f in facts(container)] == [
        ["external_id", "last_name"], ["last_name"],  # chunk 1
        ["created", "email", "last_name"], ["email"]]  # chunk 2: created contacts first


@pytest.mark.parametrize("chunk", [1, 2, 3, 100], ids=lambda n: f"chunk-{n}")
def test_a_later_row_of_the_file_updates_an_earlier_one_whatever_the_chunk_size(container: Container,
                                                                               actors: Actors, chunk: int) -> None:
    alice = actors.alice.principal
    data = ("email,first_name,last_name,tags\n"
            "ada@example.com,Ada,,a\n"
            "bob@example.com,Bob,,\n"
            "ada@example.com,,Lovelace,b\n"
            "ada@example.com,,Lovelace,\n")

    done = run(container, alice, data, chunk=chunk)

    assert counts(done) == ("done", 4, 2, 1, 1, 0)
    assert people(container, alice.workspace_id) == [
        ("ada@example.com", None, None, "Ada", "Lovelace", None, {}, ["a", "b"]),
        ("bob@example.com", None, None, "Bob", None, None, {}, []),
    ]


def test_without_update_existing_matched_contacts_are_left_alone(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    add_contact(container, alice.workspace_id, email="ada@example.com", first_name="Ada")

    done = run(container, alice, "email,first_name\nada@example.com,Augusta\nnew@example.com,New\n"
                                 "new@example.com,Newer\n", update_existing=False)

    assert counts(done) == ("done", 3, 1, 0, 2, 0)
    assert [p[3] for p in people(container, alice.workspace_id)] == ["Ada", "New"]


def test_a_row_never_moves_an_identity_between_contacts(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    ws = alice.workspace_id
    add_contact(container, ws, email="ada@example.com", external_id="u-1")
    add_contact(container, ws, email="grace@example.com")
    add_contact(container, ws, external_id="u-3", email="alan@example.com")
    data = ("email,user id\n"
            "ada@example.com,u-9\n"  # Ada already has another external id
            "grace@example.com,u-3\n"  # u-3 is Alan's
            "someone@example.com,u-3\n")  # the contact with u-3 has another email

    done = run(container, alice, data)

    assert counts(done) == ("done", 3, 0, 0, 0, 3)
    assert row_errors(container, done.id) == [
        (2, None, "the contact with this email already has the external id 'u-1'"),
        (3, None, "the email and the external id belong to two different contacts"),
        (4, None, "the contact with this external id already has another email"),
    ]


def test_tags_are_added_and_companies_linked_or_created_once(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    ws = alice.workspace_id
    now = container.clock.now()
    with container.db.transaction() as session:
        session.add(Company(workspace_id=ws, name="Acme", attributes={}, created_at=now, updated_at=now))
    add_contact(container, ws, email="ada@example.com")
    with container.db.transaction() as session:
        ada = session.scalar(select(Contact.id).where(Contact.email == "ada@example.com"))
        session.add(ContactTag(workspace_id=ws, contact_id=ada, tag="old"))
    data = ("email,organisation,tags\n"
            'ada@example.com,Acme,"vip; beta"\n'
            "bob@example.com,Globex,beta\n"
            "cy@example.com,Globex,\n")

    done = run(container, alice, data, chunk=1)

    assert counts(done) == ("done", 3, 2, 1, 0, 0)
    assert [(p[0], p[5], p[7]) for p in people(container, ws)] == [
        ("ada@example.com", "Acme", ["beta", "old", "vip"]),
        ("bob@example.com", "Globex", ["beta"]),
        ("cy@example.com", "Globex", []),
    ]
    assert count(container, Company) == 2


def test_custom_fields_merge_key_by_key_and_unmapped_columns_can_be_kept(container: Container,
                                                                        actors: Actors) -> None:
    alice = actors.alice.principal
    ws = alice.workspace_id
    add_field(container, ws, "plan", "enum", ["free", "pro"])
    add_contact(container, ws, email="ada@example.com")
    with container.db.transaction() as session:
        contact = session.scalar(select(Contact).where(Contact.email == "ada@example.com"))
        assert contact is not None
        contact.attributes = {"plan": "free", "seats": 3}

    container.imports.chunk_size = 10
    data = io.BytesIO(b"email,plan,colour\nada@example.com,pro,red\n")
    created = container.imports.create_import(alice, "c.csv", data, keep_unmapped=True, run_in_background=False)
    done = container.imports.run_import(created.id)

    assert created.mapping == {"email": "email", "plan": "field:plan", "colour": "attributes.colour"}
    assert counts(done) == ("done", 1, 0, 1, 0, 0)
    assert people(container, ws)[0][6] == {"plan": "pro", "seats": 3, "colour": "red"}


def test_one_fact_per_changed_contact_and_one_audit_entry_at_each_end(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    add_contact(container, alice.workspace_id, email="same@example.com", first_name="Same")
    data = "email,first_name\na@example.com,A\nb@example.com,B\nsame@example.com,Same\nbad,X\na@example.com,Z\n"

    done = run(container, alice, data, chunk=2)

    assert counts(done) == ("done", 5, 2, 1, 1, 1)
    assert [(f["reason"], sorted(f["fields"])) for f in facts(container)] == [
        ("import", ["created", "email", "first_name"]),  # a and b: chunk 1
        ("import", ["created", "email", "first_name"]),
        ("import", ["first_name"]),  # a again, in chunk 3
    ]
    with container.db.read() as session:
        entries = session.execute(select(AuditEntry.action, AuditEntry.target_id, AuditEntry.changes)
                                  .where(AuditEntry.action.like("contact_import.%")).order_by(AuditEntry.id)).all()
    assert [(action, target) for action, target, _ in entries] == [
        ("contact_import.created", str(done.id)), ("contact_import.finished", str(done.id))]
    assert entries[1][2] == {"rows_total": 5, "rows_created": 2, "rows_updated": 1, "rows_skipped": 1,
                             "rows_failed": 1}


EIGHT = "email,first_name\n" + "".join(f"p{i}@example.com,P{i}\n" for i in range(1, 8)) + "bad,X\n"


def test_an_import_killed_after_a_chunk_resumes_and_imports_each_row_once(container: Container,
                                                                         actors: Actors) -> None:
    alice = actors.alice.principal
    created = start(container, alice, EIGHT, chunk=3)
    chunks: list[int] = []

    def killed_after_second_chunk(progress: ContactImport) -> None:
        chunks.append(progress.rows_total)
        if len(chunks) == 2:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError, match="worker killed"):
        container.imports.run_import(created.id, progress=killed_after_second_chunk)
    stopped = container.imports.get_import(alice, created.id)
    assert (stopped.status, stopped.rows_total, stopped.lines_done, stopped.error) == (
        "failed", 6, 7, "RuntimeError: worker killed")

    done = container.imports.run_import(created.id)

    assert counts(done) == ("done", 8, 7, 0, 0, 1)
    assert [p[0] for p in people(container, alice.workspace_id)] == [f"p{i}@example.com" for i in range(1, 8)]
    assert len(facts(container)) == 7
    assert row_errors(container, done.id) == [(9, "email", "email An email address must have an @-sign.")]


def test_a_failure_inside_a_chunk_rolls_the_chunk_back_and_the_resume_redoes_it_once(
        container: Container, actors: Actors, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = actors.alice.principal
    created = start(container, alice, EIGHT, chunk=3)
    real = import_writer.publish_prepared
    calls: list[int] = []

    def failing_on_the_second_facts(session: Any, rows: Any) -> None:
        calls.append(1)  # the facts are the last write of a chunk
        if len(calls) == 2:
            raise ConnectionError("database went away")
        real(session, rows)

    monkeypatch.setattr(import_writer, "publish_prepared", failing_on_the_second_facts)
    with pytest.raises(ConnectionError):
        container.imports.run_import(created.id)
    stopped = container.imports.get_import(alice, created.id)
    assert (stopped.status, stopped.rows_total, stopped.rows_created) == ("failed", 3, 3)
    assert count(container, Contact) == 3

    monkeypatch.setattr(import_writer, "publish_prepared", real)
    done = container.imports.run_import(created.id)

    assert counts(done) == ("done", 8, 7, 0, 0, 1)
    assert count(container, Contact) == 7
    assert len(facts(container)) == 7
    assert len(row_errors(container, done.id)) == 1


def _record_chunks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records when each chunk is planned and written (counted from 1); each write takes 0.3 s."""
    events: list[str] = []
    real_plans = {name: getattr(importing, name) for name in ("plan_chunk", "plan_staged_chunk")}
    real_write = importing.write_chunk

    def planner(name: str) -> Any:
        def plan(*args: Any, **options: Any) -> Any:
            events.append(f"plan {sum(e.startswith('plan') for e in events) + 1}")
            return real_plans[name](*args, **options)
        return plan

    def write(*args: Any, **options: Any) -> int:
        time.sleep(0.3)
        written = real_write(*args, **options)
        events.append(f"wrote {sum(e.startswith('wrote') for e in events) + 1}")
        return written

    for name in real_plans:  # PostgreSQL plans rows, SQLite a stage
        monkeypatch.setattr(importing, name, planner(name))
    monkeypatch.setattr(importing, "write_chunk", write)
    return events


def test_on_postgresql_the_next_chunk_is_planned_while_one_is_written(container: Container, actors: Actors,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite has one writer at a time, so there a chunk is planned only once the one before is committed."""
    alice = actors.alice.principal
    events = _record_chunks(monkeypatch)

    done = run(container, alice, "email\na@x.com\nb@x.com\nc@x.com\nd@x.com\ne@x.com\nf@x.com\n", chunk=2)

    assert counts(done) == ("done", 6, 6, 0, 0, 0)
    if container.db.is_postgres:
        assert events == ["plan 1", "plan 2", "wrote 1", "plan 3", "wrote 2", "wrote 3"]
    else:
        assert events == ["plan 1", "wrote 1", "plan 2", "wrote 2", "plan 3", "wrote 3"]


def test_a_chunk_naming_what_the_chunk_being_written_changes_is_planned_after_it(
        container: Container, actors: Actors, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks 2, 3 and 4 each name something the chunk before creates: a contact by its external id, a company,
    a contact by its email. Planned before that chunk commits, they would create it again. Chunk 5 names
    nothing of chunk 4."""
    alice = actors.alice.principal
    events = _record_chunks(monkeypatch)
    data = ("email,external_id,first_name,organisation\n"
            "a@x.com,A1,Ada,\n" "b@x.com,,Bob,\n"
            ",A1,Ada L,\n" "c@x.com,,Cy,Acme\n"
            "d@x.com,,Di,Acme\n" "e@x.com,,Eve,\n"
            "e@x.com,,Evelyn,\n" "f@x.com,,Fay,\n"
            "g@x.com,,Gus,\n" "h@x.com,,Hal,\n")

    done = run(container, alice, data, chunk=2)

    assert counts(done) == ("done", 10, 8, 2, 0, 0)
    assert [(p[0], p[1], p[3], p[5]) for p in people(container, alice.workspace_id)] == [
        ("a@x.com", "A1", "Ada L", None), ("b@x.com", None, "Bob", None), ("c@x.com", None, "Cy", "Acme"),
        ("d@x.com", None, "Di", "Acme"), ("e@x.com", None, "Evelyn", None), ("f@x.com", None, "Fay", None),
        ("g@x.com", None, "Gus", None), ("h@x.com", None, "Hal", None)]
    assert count(container, Company) == 1
    serial = ["plan 1", "wrote 1", "plan 2", "wrote 2", "plan 3", "wrote 3", "plan 4"]
    if container.db.is_postgres:
        assert events == [*serial, "plan 5", "wrote 4", "wrote 5"]
    else:
        assert events == [*serial, "wrote 4", "plan 5", "wrote 5"]


def test_two_runs_of_one_import_never_apply_a_chunk_twice(container: Container, actors: Actors) -> None:
    """A second run starts while the first is between chunks (a worker whose lease expired, say)."""
    alice = actors.alice.principal
    created = start(container, alice, EIGHT, chunk=3)
    second: list[ContactImport] = []

    def another_run_takes_over(progress: ContactImport) -> None:
        if not second:
            second.append(container.imports.run_import(created.id))

    first = container.imports.run_import(created.id, progress=another_run_takes_over)

    assert counts(second[0]) == ("done", 8, 7, 0, 0, 1)
    assert counts(first) == ("done", 8, 7, 0, 0, 1)
    assert count(container, Contact) == 7
    assert len(facts(container)) == 7
    assert len(row_errors(container, created.id)) == 1


def test_a_finished_import_run_again_does_nothing(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    done = run(container, alice, EIGHT)

    again = container.imports.run_import(done.id)

    assert counts(again) == counts(done)
    assert count(container, Contact) == 7


def test_cancel_stops_after_the_current_chunk_and_retry_resumes_through_the_job(container: Container,
                                                                               actors: Actors) -> None:
    alice = actors.alice.principal
    created = start(container, alice, EIGHT, chunk=3)

    def cancel_after_first_chunk(progress: ContactImport) -> None:
        if progress.rows_total == 3:
            container.imports.cancel_import(alice, created.id)

    cancelled = container.imports.run_import(created.id, progress=cancel_after_first_chunk)
    assert counts(cancelled) == ("cancelled", 3, 3, 0, 0, 0)
    assert count(container, Contact) == 3
    with pytest.raises(Conflict):
        container.imports.cancel_import(alice, created.id)

    retried = container.imports.retry_import(alice, created.id)
    assert retried.status == "pending"
    with container.db.read() as session:
        job = session.scalar(select(Job).where(Job.kind == JOB_KIND))
    assert job is not None and job.payload == {"import_id": created.id}
    container.jobs.handlers[JOB_KIND](ClaimedJob(id=job.id, workspace_id=job.workspace_id, kind=job.kind,
                                                 payload=job.payload, attempts=1, max_attempts=5, key=job.key))

    assert counts(container.imports.get_import(alice, created.id)) == ("done", 8, 7, 0, 0, 1)
    assert count(container, Contact) == 7
    with pytest.raises(Conflict):
        container.imports.retry_import(alice, created.id)


def test_create_import_stores_the_file_and_queues_its_job_in_one_go(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal

    created = start(container, alice, EIGHT, background=True)

    stored = Path(created.stored_path or "")
    assert stored.parent == container.settings.data_dir / "imports"
    assert stored.name.startswith(f"{alice.workspace_id}-") and stored.read_text() == EIGHT
    assert (created.status, created.bytes_total, created.mapping) == (
        "pending", len(EIGHT), {"email": "email", "first_name": "first_name"})
    with container.db.read() as session:
        jobs = session.execute(select(Job.kind, Job.payload, Job.workspace_id, Job.key)).all()
    assert jobs == [(JOB_KIND, {"import_id": created.id}, alice.workspace_id, f"contact_import:{created.id}")]


def test_a_mapping_that_cannot_be_used_stores_nothing(container: Container, actors: Actors) -> None:
    with pytest.raises(ValidationFailed):
        start(container, actors.alice.principal, EIGHT, mapping={"email": "nope"}, background=True)

    assert count(container, ContactImport) == 0
    assert count(container, Job) == 0
    assert list((container.settings.data_dir / "imports").iterdir()) == []


def test_a_region_reads_national_phone_numbers(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal

    run(container, alice, "email,mobile\na@example.com,07911 123456\n", region="gb")

    assert people(container, alice.workspace_id)[0][2] == "+447911123456"
    with pytest.raises(ValidationFailed, match="not a country code"):
        start(container, alice, EIGHT, region="XX")


def test_reading_needs_read_and_importing_needs_write(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    reader = Principal.for_api_key(alice.workspace_id, 1, "read key", Scope.READ)
    done = run(container, alice, EIGHT)

    with pytest.raises(PermissionDenied):
        start(container, reader, EIGHT)
    with pytest.raises(PermissionDenied):
        container.imports.preview(reader, io.BytesIO(EIGHT.encode()), "x.csv")
    with pytest.raises(PermissionDenied):
        container.imports.cancel_import(reader, done.id)

    assert container.imports.get_import(reader, done.id).id == done.id
    assert count(container, ContactImport) == 1


def test_another_workspace_sees_none_of_it(container: Container, actors: Actors) -> None:
    done = run(container, actors.alice.principal, EIGHT)
    charlie = actors.charlie.principal

    with pytest.raises(ImportNotFound):
        container.imports.get_import(charlie, done.id)
    with pytest.raises(ImportNotFound):
        container.imports.list_import_errors(charlie, done.id)
    with pytest.raises(ImportNotFound):
        container.imports.export_errors_csv(charlie, done.id)
    with pytest.raises(ImportNotFound):
        container.imports.retry_import(charlie, done.id)
    assert container.imports.list_imports(charlie).items == []


def test_imports_and_errors_page_with_cursors(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    first = run(container, alice, "email\n" + "bad\n" * 5)
    second = run(container, alice, EIGHT)

    page = container.imports.list_imports(alice, limit=1)
    assert [i.id for i in page.items] == [second.id]
    assert [i.id for i in container.imports.list_imports(alice, limit=1, cursor=page.next_cursor).items] == [first.id]

    errors = container.imports.list_import_errors(alice, first.id, limit=3)
    rest = container.imports.list_import_errors(alice, first.id, limit=3, cursor=errors.next_cursor)
    assert [e.line for e in errors.items] + [e.line for e in rest.items] == [2, 3, 4, 5, 6]
    assert rest.next_cursor is None


def test_the_error_report_escapes_cells_a_spreadsheet_would_run(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    data = ('-Email,first_name\n'
            '=HYPERLINK("http://evil"),x\n'
            '+1-2,y\n'
            '@SUM(A1),z\n'
            '\tbad,w\n'
            'plain,"-3"\n')
    done = run(container, alice, data, mapping={"-Email": "email"})

    report = "".join(container.imports.export_errors_csv(alice, done.id))

    assert report.split("\r\n") == [
        "line,column,message,row",
        "2,'-Email,email An email address must have an @-sign.,\"'=HYPERLINK(\"\"http://evil\"\"),x\"",
        "3,'-Email,email An email address must have an @-sign.,\"'+1-2,y\"",
        "4,'-Email,email There must be something before the @-sign.,\"'@SUM(A1),z\"",
        "5,'-Email,email An email address must have an @-sign.,\"'\tbad,w\"",
        "6,'-Email,email An email address must have an @-sign.,\"plain,\"\"-3\"\"\"",
        "",
    ]


def test_preview_shows_format_first_rows_and_guess(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    add_field(container, alice.workspace_id, "plan", "text")
    data = ("E-mail\tGiven Name\tPlan\tNotes\n" + "".join(f"p{i}@example.com\tP{i}\tpro\tn\n" for i in range(8)))

    preview = container.imports.preview(alice, io.BytesIO(data.encode()), "../../etc/people.csv")

    assert (preview.filename, preview.encoding, preview.delimiter) == ("people.csv", "utf-8", "\t")
    assert preview.headers == ["E-mail", "Given Name", "Plan", "Notes"]
    assert [(r.line, r.cells["E-mail"]) for r in preview.rows] == [(i + 2, f"p{i}@example.com") for i in range(5)]
    assert preview.mapping == {"E-mail": "email", "Given Name": "first_name", "Plan": "field:plan", "Notes": "ignore"}
    assert preview.targets[-2:] == ["field:plan", "ignore"]
    assert count(container, ContactImport) == 0


def test_a_deleted_custom_field_fails_the_import_with_a_reason(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    add_field(container, alice.workspace_id, "plan", "text")
    created = start(container, alice, "email,plan\na@example.com,pro\n")
    with container.db.transaction() as session:
        session.query(CustomField).delete()

    with pytest.raises(ValidationFailed):
        container.imports.run_import(created.id)

    failed = container.imports.get_import(alice, created.id)
    assert (failed.status, failed.error) == (
        "failed", "ValidationFailed: The mapping uses custom fields that no longer exist: field:plan.")


def test_the_uploaded_copy_is_kept_until_the_import_finishes_then_discarded(container: Container,
                                                                             actors: Actors) -> None:
    alice = actors.alice.principal
    created = start(container, alice, EIGHT, chunk=3)
    stored = Path(created.stored_path or "")

    def killed_after_first_chunk(progress: ContactImport) -> None:
        raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        container.imports.run_import(created.id, progress=killed_after_first_chunk)
    assert stored.exists()  # a failed import keeps its file, to be resumed

    done = container.imports.run_import(created.id)

    assert done.status == "done"
    assert not stored.exists()
    assert container.imports.run_import(created.id).status == "done"  # running it again needs no file


REQUIRED = ("email,plan,first name\n"
            "ada@example.com,pro,Ada\n"
            "grace@example.com,,Grace\n"  # a new contact without the required plan
            "old@example.com,,Still Old\n"  # an existing contact: an empty cell changes nothing
            "alan@example.com,team,Alan\n")


def test_a_new_contact_without_a_required_field_is_a_row_error_while_the_good_rows_import(
        container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    add_field(container, alice.workspace_id, "plan", "enum", ["pro", "team"], required=True)
    add_contact(container, alice.workspace_id, email="old@example.com", first_name="Old")

    done = run(container, alice, REQUIRED)

    assert counts(done) == ("done", 4, 2, 1, 0, 1)
    assert row_errors(container, done.id) == [(3, "plan", "plan is required for a new contact")]
    assert [(p[0], p[3], p[6]) for p in people(container, alice.workspace_id)] == [
        ("old@example.com", "Still Old", {}), ("ada@example.com", "Ada", {"plan": "pro"}),
        ("alan@example.com", "Alan", {"plan": "team"})]


def test_a_required_field_no_column_fills_fails_every_new_contact_but_updates_existing_ones(
        container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    add_field(container, alice.workspace_id, "seats", "number", required=True)
    add_contact(container, alice.workspace_id, email="old@example.com", first_name="Old")

    done = run(container, alice, "email,first name\nnew@example.com,New\nold@example.com,Renamed\n")

    assert counts(done) == ("done", 2, 0, 1, 0, 1)
    assert row_errors(container, done.id) == [(2, None, "seats is required for a new contact")]
    assert [p[3] for p in people(container, alice.workspace_id)] == ["Renamed"]


def fail(container: Container, principal: Principal, *, error: str = "worker killed") -> ContactImport:
    created = start(container, principal, EIGHT, chunk=3)

    def killed(progress: ContactImport) -> None:
        raise RuntimeError(error)

    with pytest.raises(RuntimeError):
        container.imports.run_import(created.id, progress=killed)
    return container.imports.get_import(principal, created.id)


def test_uploads_of_imports_stopped_longer_than_the_retention_are_deleted_and_cannot_be_resumed(
        container: Container, actors: Actors, clock: FrozenClock) -> None:
    alice = actors.alice.principal
    container.settings.import_upload_retention_days = 14
    failed = fail(container, alice)
    cancelled = container.imports.cancel_import(alice, start(container, alice, EIGHT).id)
    abandoned = start(container, alice, EIGHT)  # created, never run (a CLI import killed before it started)
    clock.advance(days=13)
    recent = fail(container, alice)
    clock.advance(days=1, seconds=1)
    done = run(container, alice, EIGHT)
    paths = {i.id: Path(i.stored_path or "") for i in (failed, cancelled, abandoned, recent)}

    assert container.imports.delete_stale_uploads() == 3

    after = {i.id: container.imports.get_import(alice, i.id) for i in (failed, cancelled, abandoned, recent, done)}
    assert {i: (a.status, a.stored_path is None) for i, a in after.items()} == {
        failed.id: ("expired", True), cancelled.id: ("expired", True), abandoned.id: ("expired", True),
        recent.id: ("failed", False), done.id: ("done", False)}
    assert [paths[i].exists() for i in (failed.id, cancelled.id, abandoned.id, recent.id)] == [
        False, False, False, True]
    assert "deleted 14 days after the import stopped" in (after[failed.id].error or "")
    assert after[failed.id].rows_total == 3  # what was imported stays counted
    with pytest.raises(Conflict, match="can no longer be resumed"):
        container.imports.retry_import(alice, failed.id)
    assert container.imports.run_import(failed.id).status == "expired"
    assert container.imports.delete_stale_uploads() == 0
    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "contact_import.expired")) == 3


def test_the_cleanup_is_a_recurring_job_that_workers_queue_and_run(container: Container, actors: Actors,
                                                                   clock: FrozenClock) -> None:
    alice = actors.alice.principal
    failed = fail(container, alice)
    worker = Worker(container)

    worker.maintain(force=True)
    worker.maintain(force=True)  # queued once
    with container.db.read() as session:
        queued = session.execute(select(Job.id, Job.due_at).where(Job.kind == CLEANUP_JOB_KIND)).all()
    assert [due_at for _id, due_at in queued] == [clock.now() + CLEANUP_EVERY]

    clock.advance(days=container.settings.import_upload_retention_days + 1)
    worker.run_once()

    assert container.imports.get_import(alice, failed.id).status == "expired"
    with container.db.read() as session:
        assert session.scalar(select(Job.status).where(Job.id == queued[0].id)) == "done"
