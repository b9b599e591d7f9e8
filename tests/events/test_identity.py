"""Identity resolution through ingest: who each call is about, stitching, traits, conflicts, companies."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.contacts.models import Contact, CustomField
from cadenza.core.clock import FrozenClock
from tests.events.factories import (
    candidates,
    companies,
    contact_by_user,
    contacts,
    events,
    facts,
    identify,
    identities,
    ingest,
    message,
    page,
    track,
)

UTC = dt.UTC


@pytest.fixture
def owner(container: Container) -> Principal:
    return container.access.create_workspace("Acme", "owner@acme.example", "correct horse battery", "Owner")


def test_a_user_id_creates_its_contact_once_with_a_user_id_identity(container: Container, owner: Principal) -> None:
    ingest(container, owner, track(userId="u1"), track(userId="u1"))
    ingest(container, owner, track(userId="u1"))

    [contact] = contacts(container, owner.workspace_id)
    assert contact.external_id == "u1"
    assert identities(container, owner.workspace_id) == {("user_id", "u1", contact.id)}
    assert [e.contact_id for e in events(container, owner.workspace_id)] == [contact.id] * 3


def test_an_anonymous_call_creates_no_contact(container: Container, owner: Principal) -> None:
    ingest(container, owner, page(anonymousId="a1", name="Home"), track(anonymousId="a1"))

    assert contacts(container, owner.workspace_id) == []
    assert identities(container, owner.workspace_id) == set()
    assert [e.contact_id for e in events(container, owner.workspace_id)] == [None, None]


def test_identify_stitches_the_anonymous_past_onto_the_contact(container: Container, owner: Principal,
                                                              clock: FrozenClock) -> None:
    ingest(container, owner, page(anonymousId="a1", name="Home"), page(anonymousId="a1", name="Pricing"))
    ingest(container, owner, page(anonymousId="a2", name="Other visitor"))
    clock.advance(minutes=5)

    ingest(container, owner, identify(userId="u1", anonymousId="a1", traits={"email": "ada@example.com"}))
    ingest(container, owner, track("Clicked", anonymousId="a1"))  # later anonymous calls resolve too

    contact = contact_by_user(container, owner.workspace_id, "u1")
    assert [(e.name, e.contact_id) for e in events(container, owner.workspace_id)] == [
        ("Home", contact.id), ("Pricing", contact.id), ("Other visitor", None), ("identify", contact.id),
        ("Clicked", contact.id)]
    assert identities(container, owner.workspace_id) == {("user_id", "u1", contact.id),
                                                         ("anonymous_id", "a1", contact.id)}
    assert facts(container, owner.workspace_id)[-2]["events"] == ["Home", "Pricing", "identify"]


def test_any_call_with_both_ids_links_them(container: Container, owner: Principal) -> None:
    ingest(container, owner, page(anonymousId="a1", name="Home"))
    ingest(container, owner, track("Signed Up", userId="u1", anonymousId="a1"))

    contact = contact_by_user(container, owner.workspace_id, "u1")
    assert [e.contact_id for e in events(container, owner.workspace_id)] == [contact.id, contact.id]


def test_in_one_batch_anonymous_calls_before_and_after_identify_follow(container: Container,
                                                                      owner: Principal) -> None:
    ingest(container, owner, page(anonymousId="a1", name="Before"), identify(userId="u1", anonymousId="a1"),
           page(anonymousId="a1", name="After"))

    contact = contact_by_user(container, owner.workspace_id, "u1")
    assert [e.contact_id for e in events(container, owner.workspace_id)] == [contact.id] * 3
    assert facts(container, owner.workspace_id) == [{
        "contact_id": contact.id, "events": ["After", "Before", "identify"],
        "fields": ["created", "external_id", "last_seen_at"], "reason": "ingest"}]


def test_identify_traits_update_the_contact(container: Container, owner: Principal) -> None:
    traits = {"email": "  Ada@Example.COM ", "name": "Ada King Lovelace", "phone": "+44 20 7946 0958",
              "plan": "pro", "seats": 3}

    ingest(container, owner, identify(userId="u1", traits=traits, context={"timezone": "Europe/London"}))

    contact = contact_by_user(container, owner.workspace_id, "u1")
    assert (contact.email, contact.first_name, contact.last_name, contact.phone, contact.timezone) == (
        "ada@example.com", "Ada", "King Lovelace", "+442079460958", "Europe/London")
    assert contact.attributes == {"plan": "pro", "seats": 3}


def test_first_and_last_name_win_over_name(container: Container, owner: Principal) -> None:
    ingest(container, owner, identify(userId="u1", traits={"firstName": "Grace", "last_name": "Hopper",
                                                          "name": "Amazing Grace"}))

    contact = contact_by_user(container, owner.workspace_id, "u1")
    assert (contact.first_name, contact.last_name) == ("Grace", "Hopper")


def test_values_that_cannot_be_stored_are_kept_aside_and_reported(container: Container, owner: Principal) -> None:
    with container.db.transaction() as session:
        session.add(CustomField(workspace_id=owner.workspace_id, entity="contact", key="seats", label="Seats",
                                type="number", options=[], created_at=container.clock.now()))
        session.add(CustomField(workspace_id=owner.workspace_id, entity="contact", key="trial", label="Trial",
                                type="boolean", options=[], created_at=container.clock.now()))

    ingest(container, owner, identify(userId="u1", traits={"email": "not an email", "phone": "12",
                                                           "seats": "many", "trial": "yes",
                                                           "timezone": "Mars/Olympus"}))

    contact = contact_by_user(container, owner.workspace_id, "u1")
    assert (contact.email, contact.phone, contact.timezone) == (None, None, None)
    assert contact.attributes == {"email": "not an email", "phone": "12", "trial": True}
    [event] = events(container, owner.workspace_id)
    warnings = event.context["cadenza"]["warnings"]
    assert [w["field"] for w in warnings] == ["traits.seats", "traits.email", "traits.phone", "traits.timezone"]
    assert warnings[0]["message"] == "must be a number, got 'many'"


def test_an_email_owned_by_another_contact_merges_nothing_and_records_a_candidate(container: Container,
                                                                                 owner: Principal) -> None:
    ingest(container, owner, identify(userId="u1", traits={"email": "ada@example.com"}))
    ingest(container, owner, identify(userId="u2", traits={"email": "grace@example.com"}))

    ingest(container, owner, identify(userId="u2", traits={"email": "ADA@example.com", "plan": "pro"}))

    first, second = contacts(container, owner.workspace_id)
    assert (first.external_id, first.email) == ("u1", "ada@example.com")
    assert (second.external_id, second.email, second.attributes) == ("u2", "grace@example.com", {"plan": "pro"})
    assert candidates(container, owner.workspace_id) == [(first.id, second.id, "identity_conflict")]
    assert [e.contact_id for e in events(container, owner.workspace_id)] == [first.id, second.id, second.id]


def test_a_new_user_id_with_a_known_email_of_a_contact_without_user_id_adopts_it(container: Container,
                                                                                owner: Principal) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        session.add(Contact(workspace_id=owner.workspace_id, email="ada@example.com", attributes={},
                            created_at=now, updated_at=now))

    ingest(container, owner, identify(userId="u1", traits={"email": "ada@example.com"}))

    [contact] = contacts(container, owner.workspace_id)
    assert (contact.external_id, contact.email) == ("u1", "ada@example.com")
    assert candidates(container, owner.workspace_id) == []


def test_an_identify_with_only_an_anonymous_id_and_an_email_resolves_by_email(container: Container,
                                                                             owner: Principal) -> None:
    ingest(container, owner, page(anonymousId="a1", name="Newsletter"))

    ingest(container, owner, identify(anonymousId="a1", traits={"email": "ada@example.com"}))
    ingest(container, owner, identify(userId="u1", anonymousId="a1"))

    [contact] = contacts(container, owner.workspace_id)
    assert (contact.external_id, contact.email) == ("u1", "ada@example.com")
    assert [e.contact_id for e in events(container, owner.workspace_id)] == [contact.id] * 3


def test_an_anonymous_id_already_linked_to_another_identified_contact_is_a_conflict(container: Container,
                                                                                   owner: Principal) -> None:
    ingest(container, owner, identify(userId="u1", anonymousId="shared-browser"))

    ingest(container, owner, identify(userId="u2", anonymousId="shared-browser"))

    first, second = contacts(container, owner.workspace_id)
    assert candidates(container, owner.workspace_id) == [(first.id, second.id, "identity_conflict")]
    assert ("anonymous_id", "shared-browser", first.id) in identities(container, owner.workspace_id)
    assert [e.contact_id for e in events(container, owner.workspace_id)] == [first.id, second.id]


def test_alias_of_an_anonymous_id_stitches_it(container: Container, owner: Principal) -> None:
    ingest(container, owner, page(anonymousId="a1", name="Home"))

    ingest(container, owner, message("alias", previousId="a1", userId="u1"))
    ingest(container, owner, track(userId="a1"))  # the previousId now resolves as a userId too

    [contact] = contacts(container, owner.workspace_id)
    assert contact.external_id == "u1"
    assert [e.contact_id for e in events(container, owner.workspace_id)] == [contact.id] * 3


def test_alias_of_a_former_user_id_keeps_one_contact(container: Container, owner: Principal) -> None:
    ingest(container, owner, identify(userId="old-id", traits={"email": "ada@example.com"}))

    ingest(container, owner, message("alias", previousId="old-id", userId="new-id"))
    ingest(container, owner, track(userId="new-id"))

    [contact] = contacts(container, owner.workspace_id)
    assert (contact.external_id, contact.email) == ("old-id", "ada@example.com")
    assert ("user_id", "new-id", contact.id) in identities(container, owner.workspace_id)
    assert [e.contact_id for e in events(container, owner.workspace_id)] == [contact.id] * 3


def test_alias_joining_two_identified_contacts_records_a_candidate(container: Container, owner: Principal) -> None:
    ingest(container, owner, identify(userId="u1", traits={"email": "ada@example.com"}),
           identify(userId="u2", traits={"email": "grace@example.com"}))

    ingest(container, owner, message("alias", previousId="u1", userId="u2"))

    first, second = contacts(container, owner.workspace_id)
    assert (first.external_id, second.external_id) == ("u1", "u2")
    assert candidates(container, owner.workspace_id) == [(first.id, second.id, "identity_conflict")]


def test_group_creates_the_company_and_links_the_contact(container: Container, owner: Principal) -> None:
    ingest(container, owner, message("group", userId="u1", groupId="acme",
                                     traits={"name": "Acme Corp", "website": "https://www.acme.example/about",
                                             "industry": "Rockets", "employees": 120}))

    [company] = companies(container, owner.workspace_id)
    assert (company.external_id, company.name, company.domain, company.attributes) == (
        "acme", "Acme Corp", "acme.example", {"industry": "Rockets", "employees": 120})
    assert contact_by_user(container, owner.workspace_id, "u1").company_id == company.id


def test_group_updates_the_company_it_names(container: Container, owner: Principal) -> None:
    ingest(container, owner, message("group", userId="u1", groupId="acme", traits={"name": "Acme"}))

    ingest(container, owner, message("group", userId="u2", groupId="acme", traits={"name": "Acme Corp",
                                                                                  "domain": "acme.example"}))

    [company] = companies(container, owner.workspace_id)
    assert (company.name, company.domain) == ("Acme Corp", "acme.example")
    assert {c.company_id for c in contacts(container, owner.workspace_id)} == {company.id}


def test_one_fact_per_contact_per_request_naming_what_changed(container: Container, owner: Principal,
                                                             clock: FrozenClock) -> None:
    ingest(container, owner, identify(userId="u1", traits={"plan": "free"}), identify(userId="u2"))
    clock.advance(hours=1)

    ingest(container, owner, track("Order Completed", userId="u1"), track("Email Opened", userId="u1"),
           identify(userId="u1", traits={"plan": "pro", "firstName": "Ada"}), track("Order Completed", userId="u2"),
           page(anonymousId="nobody", name="Home"))

    u1 = contact_by_user(container, owner.workspace_id, "u1").id
    u2 = contact_by_user(container, owner.workspace_id, "u2").id
    assert facts(container, owner.workspace_id)[2:] == [
        {"contact_id": u1, "events": ["Email Opened", "Order Completed", "identify"],
         "fields": ["attributes.plan", "first_name", "last_seen_at"], "reason": "ingest"},
        {"contact_id": u2, "events": ["Order Completed"], "fields": ["last_seen_at"], "reason": "ingest"},
    ]


def test_last_seen_at_is_the_latest_event_never_in_the_future(container: Container, owner: Principal) -> None:
    ingest(container, owner, track(userId="u1", timestamp="2025-12-31T10:00:00Z"),
           track(userId="u1", timestamp="2025-12-31T11:00:00Z"), track(userId="u2", timestamp="2030-01-01T00:00:00Z"))
    ingest(container, owner, track(userId="u1", timestamp="2025-12-30T10:00:00Z"))

    assert contact_by_user(container, owner.workspace_id, "u1").last_seen_at == dt.datetime(2025, 12, 31, 11,
                                                                                            tzinfo=UTC)
    assert contact_by_user(container, owner.workspace_id, "u2").last_seen_at == container.clock.now()


def test_emails_can_swap_between_contacts_in_one_batch(container: Container, owner: Principal) -> None:
    ingest(container, owner, identify(userId="u1", traits={"email": "one@example.com"}),
           identify(userId="u2", traits={"email": "two@example.com"}))

    ingest(container, owner, identify(userId="u1", traits={"email": "new@example.com"}),
           identify(userId="u2", traits={"email": "one@example.com"}))

    with container.db.read() as session:
        emails = dict(session.execute(select(Contact.external_id, Contact.email)).all())
    assert emails == {"u1": "new@example.com", "u2": "one@example.com"}
    assert candidates(container, owner.workspace_id) == []


def test_concurrent_requests_about_one_new_person_make_one_contact(container: Container, owner: Principal) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def send(number: int) -> None:
        barrier.wait()
        try:
            ingest(container, owner, identify(userId="new-person", anonymousId=f"device-{number}",
                                              traits={f"seen_on_{number}": True}),
                   message("group", userId="new-person", groupId="new-company"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    [contact] = contacts(container, owner.workspace_id)
    assert contact.attributes == {f"seen_on_{n}": True for n in range(4)}
    assert len(companies(container, owner.workspace_id)) == 1
    assert {e.contact_id for e in events(container, owner.workspace_id)} == {contact.id}
    assert {(k, v) for k, v, _c in identities(container, owner.workspace_id)} == {
        ("user_id", "new-person"), *(("anonymous_id", f"device-{n}") for n in range(4))}
