"""Contacts and their tags have no foreign keys (see `Contact`): the application keeps their references true.

On PostgreSQL, concurrent transactions are what could break them, so these tests hold one transaction open
in the middle of its work while another runs in a thread, and check that the second waits and that nothing
is left pointing at a row that is gone. (SQLite has one writer: each test there runs the two one after the
other, which must keep the references true as well.)
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from sqlalchemy import delete, select

from cadenza.bootstrap import Container
from cadenza.contacts.companies import _load as load_company
from cadenza.contacts.errors import ContactNotFound
from cadenza.contacts.models import Company, Contact, ContactTag
from cadenza.contacts.queries import lock_companies
from cadenza.contacts.schemas import ContactUpdate
from cadenza.core.clock import UTC
from cadenza.core.errors import ValidationFailed
from tests.conftest import Actors
from tests.contacts.factories import make_company, make_contact

NOON = dt.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
BLOCKED_FOR = 0.5  # seconds a waiting transaction is given to (wrongly) get through


def in_background(work: Callable[[], Any]) -> Future[Any]:
    """`work` run in a thread of its own: a second transaction beside the test's."""
    executor = ThreadPoolExecutor(max_workers=1)
    future = executor.submit(work)
    executor.shutdown(wait=False)  # its thread ends with `work`
    return future


def waiting(future: Future[Any]) -> bool:
    """Whether `future`'s transaction is still held up after BLOCKED_FOR seconds."""
    return bool(wait([future], timeout=BLOCKED_FOR).not_done)


def dangling(container: Container) -> dict[str, list[int]]:
    """Contacts linked to a company that is gone, and tags of a contact that is gone."""
    with container.db.read() as session:
        companies = set(session.scalars(select(Company.id)))
        contact_ids = set(session.scalars(select(Contact.id)))
        linked = session.execute(select(Contact.id, Contact.company_id).where(Contact.company_id.is_not(None))).all()
        tagged = set(session.scalars(select(ContactTag.contact_id)))
    return {"contacts": sorted(cid for cid, company in linked if company not in companies),
            "tags": sorted(tagged - contact_ids)}


def test_a_company_deleted_while_a_contact_is_being_linked_to_it_leaves_the_contact_unlinked(
        container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    ws = alice.workspace_id
    acme = make_company(container, alice, name="Acme")
    with container.db.transaction() as session:  # a writer creating a contact in it, as every writer does
        assert lock_companies(session, ws, [acme.id]) == {acme.id}
        contact = Contact(workspace_id=ws, email="ada@example.com", company_id=acme.id, attributes={},
                          created_at=NOON, updated_at=NOON)
        session.add(contact)
        session.flush()
        deleting = in_background(lambda: container.companies.delete_company(alice, acme.id))
        if container.db.is_postgres:
            assert waiting(deleting), "the delete must wait for the transaction holding the company"
    deleting.result(timeout=30)

    assert container.contacts.get_contact(alice, contact.id).company is None
    assert dangling(container) == {"contacts": [], "tags": []}


def test_a_contact_cannot_be_linked_to_a_company_being_deleted(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    acme = make_company(container, alice, name="Acme")
    contact = make_contact(container, alice, email="ada@example.com")
    with container.db.transaction() as session:  # delete_company's first step: the company's row
        load_company(session, alice.workspace_id, acme.id, lock=True)
        linking = in_background(lambda: container.contacts.update_contact(alice, contact.id,
                                                                       ContactUpdate(company_id=acme.id)))
        if container.db.is_postgres:
            assert waiting(linking), "linking must wait for the transaction deleting the company"
        session.execute(delete(Company).where(Company.id == acme.id))
    try:
        linking.result(timeout=30)
    except ValidationFailed as refused:  # PostgreSQL: it waited, then found no company
        assert refused.errors == [{"field": "company_id", "message": "no such company in this workspace"}]
    assert dangling(container) == {"contacts": [], "tags": []}


def test_tags_cannot_be_added_to_a_contact_being_deleted(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    contact = make_contact(container, alice, email="ada@example.com")
    with container.db.transaction() as session:
        session.execute(delete(Contact).where(Contact.id == contact.id))  # delete_contact's first step
        tagging = in_background(lambda: container.contacts.add_tags(alice, contact.id, ["vip"]))
        if container.db.is_postgres:
            assert waiting(tagging), "tagging must wait for the transaction deleting the contact"
    try:
        tagging.result(timeout=30)
    except ContactNotFound:
        pass
    assert dangling(container) == {"contacts": [], "tags": []}


def test_an_import_updating_a_contact_being_deleted_creates_it_anew(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    contact = make_contact(container, alice, email="ada@example.com", first_name="Ada")
    container.imports.chunk_size = 10
    csv = b"Email,Tags,Company\nada@example.com,vip,Acme\n"
    started = container.imports.create_import(alice, "c.csv", io.BytesIO(csv), run_in_background=False)
    with container.db.transaction() as session:
        session.execute(delete(Contact).where(Contact.id == contact.id))
        importing = in_background(lambda: container.imports.run_import(started.id))
        if container.db.is_postgres:
            assert waiting(importing), "the import must wait for the transaction deleting its contact"
    done = importing.result(timeout=30)

    assert (done.status, done.rows_failed) == ("done", 0)
    assert dangling(container) == {"contacts": [], "tags": []}
    with container.db.read() as session:
        [(new_id, email)] = session.execute(select(Contact.id, Contact.email)).all()
        assert email == "ada@example.com"
        assert list(session.scalars(select(ContactTag.contact_id))) == [new_id]


def test_an_import_linking_contacts_to_a_company_being_deleted_creates_it_anew(
        container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    acme = make_company(container, alice, name="Acme")
    container.imports.chunk_size = 10
    started = container.imports.create_import(alice, "c.csv", io.BytesIO(b"Email,Company\nada@example.com,Acme\n"),
                                              run_in_background=False)
    with container.db.transaction() as session:
        load_company(session, alice.workspace_id, acme.id, lock=True)
        importing = in_background(lambda: container.imports.run_import(started.id))
        if container.db.is_postgres:
            assert waiting(importing), "the import must wait for the transaction deleting its company"
        session.execute(delete(Company).where(Company.id == acme.id))
    done = importing.result(timeout=30)

    assert (done.status, done.rows_created) == ("done", 1)
    assert dangling(container) == {"contacts": [], "tags": []}
    with container.db.read() as session:
        assert session.execute(select(Company.name)).scalars().all() == ["Acme"]
