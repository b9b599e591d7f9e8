"""Writing a chunk of import rows: the row-as-tuple path for new contacts writes what the general path writes."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.contacts import import_writer
from cadenza.contacts.import_rows import RowProblem, RowValues
from cadenza.contacts.import_writer import ChunkPlan, plan_chunk, write_chunk
from cadenza.contacts.models import Company, Contact, ContactTag
from cadenza.storage.database import json_dumps
from cadenza.storage.models import OutboxMessage
from cadenza.storage.outbox import contact_changed
from tests.conftest import Actors


def row(line: int, email: str | None = None, external_id: str | None = None, phone: str | None = None,
        first_name: str | None = None, company: str | None = None, tags: list[str] | None = None,
        **attributes: Any) -> RowValues:
    """A validated row (as `RowReader.check` gives it)."""
    return line, email, external_id, phone, first_name, None, None, company, tags or [], attributes


VALIDATED = [
    row(2, "ada@example.com", first_name="Ada", company="Acme", tags=["vip", "beta"], plan="pro", seats=3),
    row(3, "grace@example.com", "u-grace", "+442079460958", company="Globex"),
    row(4, external_id="u-linus", first_name="Linus"),
    row(5, "ada@example.com", first_name="Augusta", tags=["beta", "new"], seats=4),  # updates row 2's contact
    row(6, "old@example.com", first_name="Old", tags=["kept"], colour="red"),  # an existing contact
    row(7, "other@example.com", "u-grace"),  # u-grace is grace's (row 3): an error
    row(8, "u2@example.com", external_id="u-linus", company="Initech"),  # gives row 4's contact an email
    row(9, "old@example.com", company="Acme"),
    row(10, phone="+14155550100", company="Initech"),
    row(11, "same@example.com", first_name="Same"),  # an existing contact, nothing changes
    row(12, "ada@example.com", "u-linus"),  # ada's email, linus's external id: an error
    row(13, "new@example.com", first_name="New", company="Initech", tags=["a"], plan="free"),  # alone in the chunk
    row(14, "brand@example.com", external_id="u-old", company="Umbrella"),  # alone, but u-old is old@'s
]
ROWS = [import_writer.ready_to_write(values) for values in VALIDATED]
RAWS = [f"raw {r[0]}" for r in ROWS]


def seed(container: Container, workspace_id: int) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        session.add(Company(workspace_id=workspace_id, name="Acme", attributes={}, created_at=now, updated_at=now))
        for email, external_id, first_name in (("old@example.com", "u-old", "Older"),
                                               ("same@example.com", None, "Same")):
            session.add(Contact(workspace_id=workspace_id, email=email, external_id=external_id,
                                first_name=first_name, attributes={}, created_at=now, updated_at=now))


def write(container: Container, principal: Principal, *, general: bool = False, staged: bool = False) -> ChunkPlan:
    workspace_id = principal.workspace_id
    import_id = container.imports.create_import(principal, "a.csv", io.BytesIO(b"email\na@example.com\n"),
                                                run_in_background=False).id
    problems = [RowProblem(15, "email", "email is bad", "raw 15")]
    with container.db.transaction() as session:
        if staged:
            stage = import_writer.stage_rows(list(enumerate(VALIDATED)), [])
            plan = import_writer.plan_staged_chunk(session, workspace_id, stage, RAWS, problems, update_existing=True)
        else:
            plan = plan_chunk(session, workspace_id, ROWS, RAWS, problems, update_existing=True)
        if general:  # every new contact as a _Target, as when a later row of the chunk matches it
            for index in range(len(plan.new_contacts)):
                import_writer._resolve(index, plan)
        write_chunk(session, plan, workspace_id=workspace_id, import_id=import_id, now=container.clock.now())
        return plan


def written(container: Container, workspace_id: int) -> dict[str, Any]:
    """Everything the chunk wrote in the workspace, with contacts named by their identifiers, not their ids."""
    with container.db.read() as session:
        contacts = session.execute(
            select(Contact.id, Contact.email, Contact.external_id, Contact.phone, Contact.first_name,
                   Contact.last_name, Contact.timezone, Company.name, Contact.attributes)
            .outerjoin(Company, Company.id == Contact.company_id)
            .where(Contact.workspace_id == workspace_id).order_by(Contact.id)).all()
        names = {c.id: c.email or c.external_id or c.phone for c in contacts}
        tags = sorted((names[contact_id], tag) for contact_id, tag in session.execute(
            select(ContactTag.contact_id, ContactTag.tag).where(ContactTag.workspace_id == workspace_id)))
        payloads = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.workspace_id == workspace_id)
                                   .order_by(OutboxMessage.id)).all()
    return {"contacts": [(*c[1:8], dict(c[8])) for c in contacts], "tags": tags,
            "facts": [(names[p["contact_id"]], sorted(p["fields"]), p["events"], p["reason"]) for p in payloads]}


def test_new_contacts_written_from_their_rows_are_what_the_general_path_writes(container: Container,
                                                                               actors: Actors) -> None:
    fast_ws, general_ws = actors.alice.workspace_id, actors.charlie.workspace_id
    seed(container, fast_ws)
    seed(container, general_ws)

    fast = write(container, actors.alice.principal, general=False)
    general = write(container, actors.charlie.principal, general=True)

    assert written(container, fast_ws) == written(container, general_ws)
    assert (fast.created, fast.updated, fast.skipped, fast.failed_rows) == (
        general.created, general.updated, general.skipped, general.failed_rows) == (5, 4, 1, 4)
    assert [(p.line, p.message) for p in fast.problems] == [(p.line, p.message) for p in general.problems] == [
        (7, "the contact with this external id already has another email"),
        (12, "the email and the external id belong to two different contacts"),
        (14, "the contact with this external id already has another email"), (15, "email is bad")]
    assert written(container, fast_ws)["contacts"] == [
        ("old@example.com", "u-old", None, "Old", None, None, "Acme", {"colour": "red"}),
        ("same@example.com", None, None, "Same", None, None, None, {}),
        ("ada@example.com", None, None, "Augusta", None, None, "Acme", {"plan": "pro", "seats": 4}),
        ("grace@example.com", "u-grace", "+442079460958", None, None, None, "Globex", {}),
        ("u2@example.com", "u-linus", None, "Linus", None, None, "Initech", {}),
        (None, None, "+14155550100", None, None, None, "Initech", {}),
        ("new@example.com", None, None, "New", None, None, "Initech", {"plan": "free"}),
    ]


def test_a_staged_chunk_writes_what_the_rows_planned_in_python_write(container: Container, actors: Actors) -> None:
    """SQLite plans from the stage and inserts the rows alone in the chunk with INSERT … SELECT: same contacts,
    companies, tags, errors and facts (facts in another order: those rows' first), and the same ids' order."""
    if container.db.is_postgres:
        pytest.skip("staged rows are SQLite's path")
    python_ws, staged_ws = actors.alice.workspace_id, actors.charlie.workspace_id
    seed(container, python_ws)
    seed(container, staged_ws)

    planned = write(container, actors.alice.principal)
    staged = write(container, actors.charlie.principal, staged=True)

    in_python, from_stage = written(container, python_ws), written(container, staged_ws)
    assert from_stage["contacts"] == in_python["contacts"] and from_stage["tags"] == in_python["tags"]
    assert sorted(from_stage["facts"]) == sorted(in_python["facts"]) and len(in_python["facts"]) == 6
    assert staged.staged is not None and staged.staged.rows == 2  # the phone-only row and new@: alone, not taken
    assert staged.staged.taken == [9, 12]  # same@ is a contact; brand@ names u-old, old@'s external id
    assert (staged.created, staged.updated, staged.skipped, staged.failed_rows) == (
        planned.created, planned.updated, planned.skipped, planned.failed_rows)
    assert [(p.line, p.message) for p in staged.problems] == [(p.line, p.message) for p in planned.problems]
    with container.db.read() as session:
        companies = sorted(session.scalars(select(Company.name).where(Company.workspace_id == staged_ws)))
    # Initech once (a planned row and staged rows name it); no Umbrella (its row failed)
    assert companies == ["Acme", "Globex", "Initech"]


values = st.one_of(st.none(), st.text(max_size=5))
rows = st.tuples(st.integers(1, 10**6), values, values, values, values, values, values, values,
                 st.lists(st.text(min_size=1, max_size=5), max_size=3, unique=True),
                 st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=5)), max_size=3))


@given(rows, st.integers(1, 10**12), st.integers(1, 10**15))
def test_a_row_made_ready_to_write_carries_its_attributes_json_and_its_facts_json(
        values: RowValues, company_id: int, contact_id: int) -> None:
    ready = import_writer.ready_to_write(values)
    target = import_writer._new_target(ready, company_id if values[7] else None)

    fact = f'{import_writer._FACT_HEAD}{contact_id}{ready[import_writer._FACT_TAIL]}'

    expected = contact_changed(1, contact_id, fields=import_writer._created_fields(target), reason="import")
    assert fact == json_dumps(expected["payload"])
    assert ready[import_writer._ATTRIBUTES_JSON] == json_dumps(values[9])
    assert ready[:9] == values[:9]
    assert import_writer._attributes(ready) == values[9]
