"""ContactService: create, upsert, read, update, delete, tags — with their audit entries and outbox facts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from cadenza.auth import Principal, Role
from cadenza.bootstrap import Container
from cadenza.contacts.errors import ContactNotFound, DuplicateContact
from cadenza.contacts.schemas import CompanySummary, ContactCreate, ContactOut, ContactUpdate, ContactUpsert
from cadenza.core.clock import UTC, FrozenClock
from cadenza.core.errors import PermissionDenied, ValidationFailed
from cadenza.events.models import Event
from tests.conftest import Actors
from tests.contacts.factories import (
    audit_entries,
    contact_facts,
    counts,
    make_company,
    make_contact,
    make_field,
)

NOON = dt.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def analyst(container: Container, actors: Actors) -> Principal:
    user = container.access.create_user(actors.alice.principal, "ana@acme.test", "correct horse battery",
                                        Role.ANALYST, "Ana")
    return Principal.for_user(actors.alice.workspace_id, user.id, user.email, Role.ANALYST)


# ---- create ---------------------------------------------------------------------------------------


def test_create_normalises_email_and_phone_and_returns_the_whole_contact(container: Container,
                                                                          actors: Actors) -> None:
    alice = actors.alice.principal
    make_field(container, alice, "plan", "enum", options=["free", "pro"])
    acme = make_company(container, alice, name="Acme")

    contact = container.contacts.create_contact(alice, ContactCreate(
        email="  Ada@Example.COM ", phone="+44 20 7946 0958", first_name=" Ada ", last_name="Lovelace",
        external_id="u-1", timezone="Europe/London", company_id=acme.id, attributes={"plan": "pro"},
        tags=[" vip ", "beta", "vip"],
    ))

    assert contact == ContactOut(
        id=contact.id, email="ada@example.com", phone="+442079460958", first_name="Ada", last_name="Lovelace",
        external_id="u-1", timezone="Europe/London", company_id=acme.id,
        company=CompanySummary(id=acme.id, name="Acme"), tags=["beta", "vip"], attributes={"plan": "pro"},
        created_at=NOON, updated_at=NOON, last_seen_at=None,
    )
    assert container.contacts.get_contact(alice, contact.id) == contact


def test_create_writes_one_audit_entry_without_personal_values_and_one_fact(container: Container,
                                                                           actors: Actors) -> None:
    alice = actors.alice.principal
    make_field(container, alice, "plan", "enum", options=["free", "pro"])
    make_field(container, alice, "birthday", "date", is_personal=True)

    contact = container.contacts.create_contact(alice, ContactCreate(
        email="ada@example.com", external_id="u-1", attributes={"plan": "pro", "birthday": "1815-12-10"},
        tags=["vip"]))

    [entry] = audit_entries(container, "contact.created")
    assert (entry.workspace_id, entry.target_type, entry.target_id) == (alice.workspace_id, "contact", str(contact.id))
    assert entry.actor_label == "alice@acme.test"
    assert entry.changes == {
        "email": "redacted", "external_id": [None, "u-1"], "attributes.plan": [None, "pro"],
        "attributes.birthday": "redacted", "tags": {"added": ["vip"]},
    }
    assert contact_facts(container) == [(alice.workspace_id, {
        "contact_id": contact.id, "events": [], "reason": "api",
        "fields": ["attributes.birthday", "attributes.plan", "created", "email", "external_id", "tags"],
    })]


@pytest.mark.parametrize(("values", "field"), [
    ({"email": "not-an-address"}, "email"),
    ({"email": ""}, "email"),
    ({"phone": "12"}, "phone"),
    ({"phone": "+1 555"}, "phone"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"external_id": "   "}, "external_id"),
    ({"tags": [" "]}, "tags"),
    ({"tags": ["x" * 101]}, "tags"),
    ({"attributes": {"unknown": 1}}, "attributes.unknown"),
], ids=["email", "empty-email", "short-phone", "bad-phone", "timezone", "blank-external-id", "empty-tag",
        "long-tag", "unknown-attribute"])
def test_create_refuses_bad_values_naming_the_field_and_writes_nothing(
        container: Container, actors: Actors, values: dict[str, object], field: str) -> None:
    before = counts(container)
    with pytest.raises(ValidationFailed) as caught:
        container.contacts.create_contact(actors.alice.principal, ContactCreate(**values))  # type: ignore[arg-type]
    assert [e["field"] for e in caught.value.errors] == [field]
    assert counts(container) == before


def test_create_lists_every_problem_in_one_answer(container: Container, actors: Actors) -> None:
    with pytest.raises(ValidationFailed) as caught:
        container.contacts.create_contact(actors.alice.principal, ContactCreate(
            email="nope", phone="nope", attributes={"x": 1}))
    assert [e["field"] for e in caught.value.errors] == ["email", "phone", "attributes.x"]


@pytest.mark.parametrize("field", ["email", "external_id"])
def test_create_refuses_a_duplicate_email_or_external_id(container: Container, actors: Actors, field: str) -> None:
    alice = actors.alice.principal
    first = make_contact(container, alice, email="ada@example.com", external_id="u-1")
    before = counts(container)
    values = {"email": "ADA@example.com"} if field == "email" else {"external_id": "u-1"}
    with pytest.raises(DuplicateContact) as caught:
        container.contacts.create_contact(alice, ContactCreate(**values))  # type: ignore[arg-type]
    assert caught.value.status == 409
    assert caught.value.errors == [{"field": field, "message": "already exists"}]
    assert caught.value.extra == {"contact_id": first.id}
    assert counts(container) == before


def test_the_same_email_may_live_in_two_workspaces(container: Container, actors: Actors) -> None:
    a = make_contact(container, actors.alice.principal, email="ada@example.com")
    c = make_contact(container, actors.charlie.principal, email="ada@example.com")
    assert a.id != c.id


def test_a_company_of_another_workspace_cannot_be_linked(container: Container, actors: Actors) -> None:
    globex = make_company(container, actors.charlie.principal, name="Globex")
    before = counts(container)
    with pytest.raises(ValidationFailed) as caught:
        container.contacts.create_contact(actors.alice.principal, ContactCreate(email="a@x.com", company_id=globex.id))
    assert caught.value.errors == [{"field": "company_id", "message": "no such company in this workspace"}]
    assert counts(container) == before


# ---- upsert ---------------------------------------------------------------------------------------


def test_upsert_creates_then_updates_the_contact_matched_by_email(container: Container, actors: Actors,
                                                                 clock: FrozenClock) -> None:
    alice = actors.alice.principal
    created, was_created = container.contacts.upsert_contact(alice, ContactUpsert(email="Ada@Example.com",
                                                                                  first_name="Ada"))
    assert was_created is True
    clock.advance(hours=1)
    updated, was_created = container.contacts.upsert_contact(alice, ContactUpsert(
        email="ada@example.com", last_name="Lovelace", tags=["vip"]))
    assert was_created is False
    assert (updated.id, updated.first_name, updated.last_name, updated.tags) == (created.id, "Ada", "Lovelace", ["vip"])
    assert updated.updated_at == NOON + dt.timedelta(hours=1)
    assert [payload["fields"] for _ws, payload in contact_facts(container)] == [
        ["created", "email", "first_name"], ["last_name", "tags"]]


def test_upsert_matches_external_id_first_and_sets_a_new_email(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    first = make_contact(container, alice, email="old@example.com", external_id="u-1")
    updated, was_created = container.contacts.upsert_contact(alice, ContactUpsert(external_id="u-1",
                                                                                  email="new@example.com"))
    assert (was_created, updated.id, updated.email) == (False, first.id, "new@example.com")


def test_upsert_adopts_an_email_match_without_external_id(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    first = make_contact(container, alice, email="ada@example.com")
    updated, was_created = container.contacts.upsert_contact(alice, ContactUpsert(external_id="u-9",
                                                                                  email="ada@example.com"))
    assert (was_created, updated.id, updated.external_id) == (False, first.id, "u-9")


def test_upsert_never_joins_two_identified_contacts(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    make_contact(container, alice, email="ada@example.com", external_id="u-1")
    make_contact(container, alice, email="bob@example.com", external_id="u-2")
    before = counts(container)
    with pytest.raises(DuplicateContact):
        container.contacts.upsert_contact(alice, ContactUpsert(external_id="u-1", email="bob@example.com"))
    with pytest.raises(DuplicateContact):
        container.contacts.upsert_contact(alice, ContactUpsert(external_id="u-3", email="ada@example.com"))
    assert counts(container) == before


def test_upsert_needs_something_to_match_on(container: Container, actors: Actors) -> None:
    with pytest.raises(ValidationFailed):
        container.contacts.upsert_contact(actors.alice.principal, ContactUpsert(first_name="Ada"))


# ---- update ---------------------------------------------------------------------------------------


def test_update_changes_only_what_is_sent_and_null_clears(container: Container, actors: Actors,
                                                          clock: FrozenClock) -> None:
    alice = actors.alice.principal
    make_field(container, alice, "plan", "enum", options=["free", "pro"])
    make_field(container, alice, "seats", "number")
    contact = make_contact(container, alice, email="ada@example.com", first_name="Ada", phone="+33612345678",
                           attributes={"plan": "free", "seats": 3})
    clock.advance(days=1)

    updated = container.contacts.update_contact(alice, contact.id, ContactUpdate(
        first_name="Augusta", phone=None, attributes={"plan": "pro", "seats": None}))

    assert (updated.email, updated.first_name, updated.phone) == ("ada@example.com", "Augusta", None)
    assert updated.attributes == {"plan": "pro"}
    assert updated.updated_at == NOON + dt.timedelta(days=1)
    [entry] = audit_entries(container, "contact.updated")
    assert entry.changes == {"first_name": "redacted", "phone": "redacted", "attributes.plan": ["free", "pro"],
                             "attributes.seats": [3, None]}
    assert contact_facts(container)[-1][1]["fields"] == ["attributes.plan", "attributes.seats", "first_name", "phone"]


def test_an_update_that_changes_nothing_writes_nothing(container: Container, actors: Actors,
                                                       clock: FrozenClock) -> None:
    alice = actors.alice.principal
    contact = make_contact(container, alice, email="ada@example.com", first_name="Ada")
    before = counts(container)
    clock.advance(days=1)
    same = container.contacts.update_contact(alice, contact.id, ContactUpdate(email="ADA@example.com",
                                                                              first_name="Ada"))
    assert same.updated_at == NOON
    assert counts(container) == before


def test_update_refuses_an_email_another_contact_has(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    make_contact(container, alice, email="ada@example.com")
    bob = make_contact(container, alice, email="bob@example.com")
    with pytest.raises(DuplicateContact):
        container.contacts.update_contact(alice, bob.id, ContactUpdate(email="ada@example.com"))
    assert container.contacts.get_contact(alice, bob.id).email == "bob@example.com"


def test_update_links_and_unlinks_a_company(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    acme = make_company(container, alice, name="Acme")
    contact = make_contact(container, alice)
    linked = container.contacts.update_contact(alice, contact.id, ContactUpdate(company_id=acme.id))
    assert linked.company == CompanySummary(id=acme.id, name="Acme")
    unlinked = container.contacts.update_contact(alice, contact.id, ContactUpdate(company_id=None))
    assert (unlinked.company_id, unlinked.company) == (None, None)
    assert [payload["fields"] for _ws, payload in contact_facts(container)[1:]] == [["company_id"], ["company_id"]]


# ---- delete ---------------------------------------------------------------------------------------


def test_delete_removes_the_contact_and_keeps_its_events_unlinked(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    contact = make_contact(container, alice, tags=["vip"])
    with container.db.transaction() as session:
        session.add(Event(workspace_id=alice.workspace_id, contact_id=contact.id, message_id="m-1", type="track",
                          name="Signed Up", occurred_at=NOON, received_at=NOON))

    container.contacts.delete_contact(alice, contact.id)

    with pytest.raises(ContactNotFound):
        container.contacts.get_contact(alice, contact.id)
    with container.db.read() as session:
        assert session.execute(select(Event.message_id, Event.contact_id)).all() == [("m-1", None)]
    assert counts(container)["tags"] == 0
    [entry] = audit_entries(container, "contact.deleted")
    assert entry.target_id == str(contact.id)
    assert contact_facts(container)[-1] == (alice.workspace_id, {"contact_id": contact.id, "fields": ["deleted"],
                                                                 "events": [], "reason": "api"})


# ---- tags -----------------------------------------------------------------------------------------


def test_tags_are_trimmed_added_once_and_removed(container: Container, actors: Actors, clock: FrozenClock) -> None:
    alice = actors.alice.principal
    contact = make_contact(container, alice, tags=["vip"])
    clock.advance(minutes=5)

    tagged = container.contacts.add_tags(alice, contact.id, [" beta ", "vip", "beta"])
    assert tagged.tags == ["beta", "vip"]
    assert tagged.updated_at == NOON + dt.timedelta(minutes=5)
    assert audit_entries(container, "contact.tagged")[-1].changes == {"tags": {"added": ["beta"]}}

    untagged = container.contacts.remove_tag(alice, contact.id, " vip")
    assert untagged.tags == ["beta"]
    assert audit_entries(container, "contact.untagged")[-1].changes == {"tags": {"removed": ["vip"]}}
    assert [payload["fields"] for _ws, payload in contact_facts(container)[1:]] == [["tags"], ["tags"]]


def test_adding_tags_it_has_or_removing_one_it_lacks_writes_nothing(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    contact = make_contact(container, alice, tags=["vip"])
    before = counts(container)
    assert container.contacts.add_tags(alice, contact.id, ["vip"]).tags == ["vip"]
    assert container.contacts.remove_tag(alice, contact.id, "absent").tags == ["vip"]
    assert counts(container) == before


# ---- who may do what ------------------------------------------------------------------------------


def test_another_workspace_sees_not_found_and_changes_nothing(container: Container, actors: Actors) -> None:
    contact = make_contact(container, actors.alice.principal, email="ada@example.com", tags=["vip"])
    charlie = actors.charlie.principal
    before = counts(container)
    attempts = [
        lambda: container.contacts.get_contact(charlie, contact.id),
        lambda: container.contacts.update_contact(charlie, contact.id, ContactUpdate(first_name="Eve")),
        lambda: container.contacts.delete_contact(charlie, contact.id),
        lambda: container.contacts.add_tags(charlie, contact.id, ["x"]),
        lambda: container.contacts.remove_tag(charlie, contact.id, "vip"),
    ]
    for attempt in attempts:
        with pytest.raises(ContactNotFound):
            attempt()
    assert counts(container) == before
    assert container.contacts.get_contact(actors.alice.principal, contact.id).tags == ["vip"]


def test_a_read_only_member_reads_but_cannot_write(container: Container, actors: Actors) -> None:
    contact = make_contact(container, actors.alice.principal, email="ada@example.com")
    ana = analyst(container, actors)
    before = counts(container)
    assert container.contacts.get_contact(ana, contact.id).email == "ada@example.com"
    attempts = [
        lambda: container.contacts.create_contact(ana, ContactCreate(email="x@example.com")),
        lambda: container.contacts.upsert_contact(ana, ContactUpsert(email="x@example.com")),
        lambda: container.contacts.update_contact(ana, contact.id, ContactUpdate(first_name="Eve")),
        lambda: container.contacts.delete_contact(ana, contact.id),
        lambda: container.contacts.add_tags(ana, contact.id, ["x"]),
        lambda: container.contacts.remove_tag(ana, contact.id, "x"),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    assert counts(container) == before
