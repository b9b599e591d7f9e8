"""Merging two contacts: precedence, what moves, what is recorded, and what is refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from cadenza.auth import Principal, Scope
from cadenza.auth.models import AuditEntry
from cadenza.bootstrap import Container
from cadenza.contacts.errors import ContactNotFound
from cadenza.contacts.models import Company, Contact, ContactIdentity, ContactMerge, ContactTag, DuplicateCandidate
from cadenza.core.errors import PermissionDenied, ValidationFailed
from cadenza.events.models import Event
from cadenza.storage.models import OutboxMessage
from tests.conftest import Actors


def add_contact(container: Container, workspace_id: int, *, tags: tuple[str, ...] = (), **values: Any) -> int:
    now = container.clock.now()
    values.setdefault("attributes", {})
    with container.db.transaction() as session:
        contact = Contact(workspace_id=workspace_id, created_at=now, updated_at=now, **values)
        session.add(contact)
        session.flush()
        session.add_all([ContactTag(workspace_id=workspace_id, contact_id=contact.id, tag=tag) for tag in tags])
        return contact.id


def add_company(container: Container, workspace_id: int, name: str) -> int:
    now = container.clock.now()
    with container.db.transaction() as session:
        company = Company(workspace_id=workspace_id, name=name, attributes={}, created_at=now, updated_at=now)
        session.add(company)
        session.flush()
        return company.id


def add_events(container: Container, workspace_id: int, contact_id: int, *names: str) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        for name in names:
            session.add(Event(workspace_id=workspace_id, contact_id=contact_id, message_id=f"{contact_id}-{name}",
                              type="track", name=name, occurred_at=now, received_at=now, properties={}, context={},
                              integrations={}, source="api"))


def add_identity(container: Container, workspace_id: int, contact_id: int, kind: str, value: str) -> None:
    with container.db.transaction() as session:
        session.add(ContactIdentity(workspace_id=workspace_id, kind=kind, value=value, contact_id=contact_id,
                                    created_at=container.clock.now()))


def add_candidate(container: Container, workspace_id: int, a: int, b: int, reason: str = "phone") -> None:
    with container.db.transaction() as session:
        session.add(DuplicateCandidate(workspace_id=workspace_id, contact_id=min(a, b), other_contact_id=max(a, b),
                                       reason=reason, score=1.0, status="open", created_at=container.clock.now()))


def contact(container: Container, contact_id: int) -> Contact | None:
    with container.db.read() as session:
        found = session.get(Contact, contact_id)
        if found is not None:
            session.expunge(found)
        return found


def rows(container: Container, query: Any) -> list[Any]:
    with container.db.read() as session:
        return list(session.execute(query).all())


@pytest.fixture
def pair(container: Container, actors: Actors) -> tuple[int, int]:
    """Ada (the survivor, partly filled) and her older duplicate with more data."""
    ws = actors.alice.workspace_id
    acme = add_company(container, ws, "Acme")
    globex = add_company(container, ws, "Globex")
    survivor = add_contact(container, ws, email="ada@example.com", first_name="Ada", company_id=acme,
                           attributes={"plan": "pro", "seats": None}, tags=("vip", "beta"),
                           last_seen_at=dt.datetime(2025, 5, 1, tzinfo=dt.UTC))
    merged = add_contact(container, ws, email="ada.lovelace@example.org", external_id="u-42", first_name="Augusta",
                         last_name="Lovelace", phone="+442079460958", timezone="Europe/London", company_id=globex,
                         attributes={"plan": "free", "seats": 3, "colour": "green"}, tags=("beta", "newsletter"),
                         last_seen_at=dt.datetime(2025, 9, 1, tzinfo=dt.UTC))
    add_events(container, ws, survivor, "Signed Up")
    add_events(container, ws, merged, "Page Viewed", "Order Completed")
    add_identity(container, ws, merged, "anonymous_id", "anon-1")
    add_identity(container, ws, merged, "user_id", "u-42")
    return survivor, merged


def test_the_survivor_keeps_its_values_and_fills_its_empty_fields(container: Container, actors: Actors,
                                                                  pair: tuple[int, int]) -> None:
    survivor_id, merged_id = pair

    container.duplicates.merge_contacts(actors.alice.principal, survivor_id, merged_id)

    survivor = contact(container, survivor_id)
    assert survivor is not None
    assert (survivor.email, survivor.external_id, survivor.first_name, survivor.last_name, survivor.phone,
            survivor.timezone) == ("ada@example.com", "u-42", "Ada", "Lovelace", "+442079460958", "Europe/London")
    assert rows(container, select(Company.name).where(Company.id == survivor.company_id)) == [("Acme",)]
    assert survivor.attributes == {"plan": "pro", "seats": 3, "colour": "green"}
    assert survivor.last_seen_at == dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
    assert contact(container, merged_id) is None


def test_events_tags_and_identities_move_to_the_survivor(container: Container, actors: Actors,
                                                         pair: tuple[int, int]) -> None:
    survivor_id, merged_id = pair

    container.duplicates.merge_contacts(actors.alice.principal, survivor_id, merged_id)

    assert rows(container, select(Event.name, Event.type, Event.source).where(Event.contact_id == survivor_id)
                .order_by(Event.id)) == [("Signed Up", "track", "api"), ("Page Viewed", "track", "api"),
                                         ("Order Completed", "track", "api"),
                                         ("Contact Merged", "internal", "internal")]
    assert rows(container, select(func.count()).select_from(Event).where(Event.contact_id.is_(None))) == [(0,)]
    assert rows(container, select(ContactTag.tag).where(ContactTag.contact_id == survivor_id)
                .order_by(ContactTag.tag)) == [("beta",), ("newsletter",), ("vip",)]
    assert rows(container, select(ContactIdentity.kind, ContactIdentity.value, ContactIdentity.contact_id)
                .order_by(ContactIdentity.kind)) == [("anonymous_id", "anon-1", survivor_id),
                                                     ("user_id", "u-42", survivor_id)]


def test_the_merge_is_recorded_audited_published_and_shown_on_the_timeline(container: Container, actors: Actors,
                                                                           pair: tuple[int, int]) -> None:
    survivor_id, merged_id = pair
    alice = actors.alice.principal

    merge = container.duplicates.merge_contacts(alice, survivor_id, merged_id)

    moved = {"events": 2, "identities": 2, "tags": 1, "duplicate_candidates": 0,
             "filled_fields": ["external_id", "last_name", "phone", "timezone", "attributes.colour",
                               "attributes.seats"]}
    (globex,) = rows(container, select(Company.id).where(Company.name == "Globex"))[0]
    assert (merge.survivor_id, merge.merged_contact_id, merge.actor_label, merge.moved) == (
        survivor_id, merged_id, "alice@acme.test", moved)
    assert merge.merged_snapshot == {
        "email": "ada.lovelace@example.org", "external_id": "u-42", "phone": "+442079460958",
        "first_name": "Augusta", "last_name": "Lovelace", "timezone": "Europe/London",
        "company_id": globex, "attributes": {"plan": "free", "seats": 3, "colour": "green"},
        "tags": ["beta", "newsletter"], "created_at": "2026-01-01T12:00:00+00:00",
        "last_seen_at": "2025-09-01T00:00:00+00:00"}
    assert rows(container, select(AuditEntry.action, AuditEntry.target_id, AuditEntry.changes)
                .where(AuditEntry.action == "contact.merged")) == [
        ("contact.merged", str(survivor_id), {"merged_contact_id": merged_id, "moved": {
            "events": 2, "identities": 2, "tags": 1, "duplicate_candidates": 0},
            "filled_fields": moved["filled_fields"]})]
    published = rows(container, select(OutboxMessage.topic, OutboxMessage.payload).order_by(OutboxMessage.id))
    assert published == [
        ("contact.changed", {"contact_id": survivor_id, "events": ["Contact Merged"], "reason": "merge",
                             "fields": sorted([*moved["filled_fields"], "tags", "merged"])}),
        ("contact.merged", {"survivor_id": survivor_id, "merged_contact_id": merged_id}),
    ]
    (event,) = rows(container, select(Event).where(Event.name == "Contact Merged"))
    assert (event[0].message_id, event[0].contact_id, event[0].user_id, event[0].properties["merged_contact_id"],
            event[0].properties["merged_email"]) == (
        f"contact-merged-{merge.id}", survivor_id, "u-42", merged_id, "ada.lovelace@example.org")
    assert rows(container, select(func.count()).select_from(ContactMerge)) == [(1,)]


def test_a_former_external_id_keeps_resolving_to_the_survivor(container: Container, actors: Actors) -> None:
    ws = actors.alice.workspace_id
    survivor = add_contact(container, ws, external_id="u-1")
    merged = add_contact(container, ws, external_id="u-2")

    merge = container.duplicates.merge_contacts(actors.alice.principal, survivor, merged)

    assert merge.moved["former_user_id"] == "u-2"
    assert rows(container, select(ContactIdentity.value, ContactIdentity.contact_id)) == [("u-2", survivor)]
    assert contact(container, survivor).external_id == "u-1"  # type: ignore[union-attr]


def test_duplicate_candidates_follow_the_survivor(container: Container, actors: Actors) -> None:
    ws = actors.alice.workspace_id
    survivor, merged, third, fourth = (add_contact(container, ws, email=f"p{i}@example.com") for i in range(4))
    add_candidate(container, ws, survivor, merged)  # the pair being merged: resolved
    add_candidate(container, ws, merged, third)  # moves to (survivor, third)
    add_candidate(container, ws, merged, fourth)  # the survivor already has this pair: dropped
    add_candidate(container, ws, survivor, fourth, reason="email")

    merge = container.duplicates.merge_contacts(actors.alice.principal, survivor, merged)

    assert merge.moved["duplicate_candidates"] == 1
    assert rows(container, select(DuplicateCandidate.contact_id, DuplicateCandidate.other_contact_id,
                                  DuplicateCandidate.reason).order_by(DuplicateCandidate.other_contact_id)) == [
        (survivor, third, "phone"), (survivor, fourth, "email")]


def test_a_contact_cannot_be_merged_into_itself(container: Container, actors: Actors) -> None:
    ws = actors.alice.workspace_id
    ada = add_contact(container, ws, email="ada@example.com")

    with pytest.raises(ValidationFailed, match="cannot be merged into itself"):
        container.duplicates.merge_contacts(actors.alice.principal, ada, ada)
    assert rows(container, select(func.count()).select_from(ContactMerge)) == [(0,)]


def test_a_merge_across_workspaces_is_refused_and_changes_nothing(container: Container, actors: Actors) -> None:
    ada = add_contact(container, actors.alice.workspace_id, email="ada@example.com")
    other = add_contact(container, actors.charlie.workspace_id, email="ada@example.org", first_name="Ada")

    with pytest.raises(ContactNotFound, match=f"No contact {other} in this workspace."):
        container.duplicates.merge_contacts(actors.alice.principal, ada, other)
    with pytest.raises(ContactNotFound, match=f"No contact {ada} in this workspace."):
        container.duplicates.merge_contacts(actors.charlie.principal, other, ada)

    assert contact(container, other) is not None and contact(container, ada) is not None
    assert rows(container, select(func.count()).select_from(ContactMerge)) == [(0,)]
    assert rows(container, select(func.count()).select_from(OutboxMessage)) == [(0,)]


def test_merging_needs_write(container: Container, actors: Actors) -> None:
    ws = actors.alice.workspace_id
    a, b = add_contact(container, ws, email="a@example.com"), add_contact(container, ws, email="b@example.com")
    reader = Principal.for_api_key(ws, 1, "read key", Scope.READ)

    with pytest.raises(PermissionDenied):
        container.duplicates.merge_contacts(reader, a, b)
    assert contact(container, b) is not None


def test_a_survivor_without_email_takes_the_merged_contacts_address(container: Container, actors: Actors) -> None:
    """Email is unique per workspace: the merged contact is gone before the survivor takes its address."""
    ws = actors.alice.workspace_id
    survivor = add_contact(container, ws, phone="+442079460958", first_name="Ada")
    merged = add_contact(container, ws, email="ada@example.com", first_name="Augusta")

    merge = container.duplicates.merge_contacts(actors.alice.principal, survivor, merged)

    kept = contact(container, survivor)
    assert kept is not None and (kept.email, kept.first_name, kept.phone) == (
        "ada@example.com", "Ada", "+442079460958")
    assert merge.moved["filled_fields"] == ["email"]
