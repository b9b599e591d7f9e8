"""ContactService.list_contacts: every filter, their combination, and keyset pagination."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.contacts.schemas import ContactFilters, ContactUpdate
from cadenza.core.clock import UTC, FrozenClock
from cadenza.core.errors import ValidationFailed
from tests.conftest import Actors
from tests.contacts.factories import make_company, make_contact, make_field

NOON = dt.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def ids(container: Container, principal: Principal, **filters: Any) -> list[int]:
    return [c.id for c in container.contacts.list_contacts(principal, ContactFilters(**filters), limit=500).items]


@pytest.fixture
def people(container: Container, actors: Actors, clock: FrozenClock) -> dict[str, int]:
    """Five contacts in alice's workspace, created a day apart, and one in charlie's."""
    alice = actors.alice.principal
    make_field(container, alice, "plan", "enum", options=["free", "pro"])
    make_field(container, alice, "seats", "number")
    make_field(container, alice, "beta", "boolean")
    make_field(container, alice, "renewal", "date")
    make_field(container, alice, "colours", "list")
    acme = make_company(container, alice, name="Acme")
    made: dict[str, int] = {}
    for name, values in [
        ("ada", {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "phone": "+442079460958",
                 "external_id": "U-100", "tags": ["vip"], "company_id": acme.id,
                 "attributes": {"plan": "pro", "seats": 10, "beta": True, "renewal": "2026-05-01",
                                "colours": ["red", "blue"]}}),
        ("alan", {"email": "alan@example.org", "first_name": "Alan", "last_name": "Turing", "external_id": "U-200",
                  "tags": ["vip", "beta"], "attributes": {"plan": "free", "seats": 2.5, "beta": False}}),
        ("grace", {"email": "grace@navy.mil", "first_name": "Grace", "last_name": "Hopper", "phone": "+12025550123",
                   "company_id": acme.id, "attributes": {"plan": "pro", "colours": ["green"]}}),
        ("edsger", {"email": "edsger@example.nl", "first_name": "Édsger", "last_name": "Dijkstra"}),
        ("anon", {"external_id": "adam-7"}),
    ]:
        made[name] = make_contact(container, alice, **values).id
        clock.advance(days=1)
    make_contact(container, actors.charlie.principal, email="ada@elsewhere.com", first_name="Ada", tags=["vip"])
    made["acme"] = acme.id
    return made


def test_without_filters_newest_first_and_only_this_workspace(container: Container, actors: Actors,
                                                             people: dict[str, int]) -> None:
    assert ids(container, actors.alice.principal) == [people[n] for n in ("anon", "edsger", "grace", "alan", "ada")]


@pytest.mark.parametrize(("q", "expected"), [
    ("ada", ["anon", "ada"]),  # email, first name, external id "adam-7"
    ("ADA", ["ada"]),  # names and emails case-insensitively; external ids as typed
    ("al", ["alan"]),
    ("love", ["ada"]),  # last name
    ("hop", ["grace"]),
    ("grace@navy", ["grace"]),
    ("U-1", ["ada"]),  # external id, as typed
    ("u-1", []),  # external ids are case-sensitive
    ("+4420", ["ada"]),  # phone
    ("1 202 555", ["grace"]),  # phone typed with spaces, without +
    ("Éd", ["edsger"]),
    ("example.com", []),  # a prefix, not a substring
    ("%", []),  # LIKE wildcards are literal
    ("_", []),
    ("zzz", []),
])
def test_q_is_a_prefix_search(container: Container, actors: Actors, people: dict[str, int], q: str,
                              expected: list[str]) -> None:
    assert ids(container, actors.alice.principal, q=q) == [people[n] for n in expected]


@pytest.mark.parametrize(("filters", "expected"), [
    ({"email": "ADA@example.com"}, ["ada"]),
    ({"email": "ada@elsewhere.com"}, []),
    ({"tag": "vip"}, ["alan", "ada"]),
    ({"tag": " beta "}, ["alan"]),
    ({"tag": "VIP"}, []),
    ({"created_after": NOON + dt.timedelta(days=2)}, ["anon", "edsger"]),
    ({"created_before": NOON + dt.timedelta(days=1)}, ["ada"]),
    ({"created_after": NOON, "created_before": NOON + dt.timedelta(days=3)}, ["grace", "alan"]),
    ({"created_after": dt.datetime(2026, 1, 3, 13, 0)}, ["anon", "edsger"]),  # naive means UTC
    ({"attributes": {"plan": "pro"}}, ["grace", "ada"]),
    ({"attributes": {"plan": "pro", "seats": "10"}}, ["ada"]),
    ({"attributes": {"seats": "2.5"}}, ["alan"]),
    ({"attributes": {"beta": "true"}}, ["ada"]),
    ({"attributes": {"beta": "no"}}, ["alan"]),
    ({"attributes": {"renewal": "2026-05-01"}}, ["ada"]),
    ({"attributes": {"colours": "red"}}, ["ada"]),
    ({"attributes": {"colours": "green"}}, ["grace"]),
    ({"attributes": {"undefined_key": "x"}}, []),
    ({"tag": "vip", "attributes": {"plan": "free"}}, ["alan"]),
    ({"q": "a", "tag": "vip"}, ["alan", "ada"]),
], ids=lambda value: repr(value)[:40])
def test_each_filter(container: Container, actors: Actors, people: dict[str, int], filters: dict[str, Any],
                     expected: list[str]) -> None:
    assert ids(container, actors.alice.principal, **filters) == [people[n] for n in expected]


def test_company_filter(container: Container, actors: Actors, people: dict[str, int]) -> None:
    assert ids(container, actors.alice.principal, company_id=people["acme"]) == [people["grace"], people["ada"]]
    assert ids(container, actors.charlie.principal, company_id=people["acme"]) == []


def test_updated_after(container: Container, actors: Actors, people: dict[str, int], clock: FrozenClock) -> None:
    alice = actors.alice.principal
    mark = clock.now()
    clock.advance(minutes=1)
    container.contacts.update_contact(alice, people["alan"], ContactUpdate(first_name="Alan M."))
    container.contacts.add_tags(alice, people["ada"], ["renewed"])
    assert ids(container, alice, updated_after=mark) == [people["alan"], people["ada"]]


@pytest.mark.parametrize(("attributes", "field"), [
    ({"seats": "many"}, "attr.seats"),
    ({"beta": "maybe"}, "attr.beta"),
    ({"renewal": "soon"}, "attr.renewal"),
    ({'x"y': "1"}, 'attr.x"y'),
])
def test_bad_attribute_filters_are_a_422(container: Container, actors: Actors, people: dict[str, int],
                                         attributes: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        ids(container, actors.alice.principal, attributes=attributes)
    assert caught.value.errors[0]["field"] == field


def test_cursor_pagination_walks_every_row_once(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    made = [make_contact(container, alice, tags=["walk"] if n % 3 else []).id for n in range(23)]
    make_contact(container, actors.charlie.principal, tags=["walk"])
    for filters, expected in ((ContactFilters(), made), (ContactFilters(tag="walk"),
                                                         [i for n, i in enumerate(made) if n % 3])):
        seen: list[int] = []
        pages = 0
        cursor = None
        while True:
            page = container.contacts.list_contacts(alice, filters, limit=5, cursor=cursor)
            seen.extend(c.id for c in page.items)
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(expected, reverse=True)
        assert pages == -(-len(expected) // 5)


@pytest.mark.parametrize("cursor", ["garbage!", "WyJ4Il0", "e30", "W3RydWVd"],
                         ids=["not-base64", "string-id", "object", "boolean"])
def test_a_cursor_we_did_not_issue_is_a_422(container: Container, actors: Actors, cursor: str) -> None:
    with pytest.raises(ValidationFailed):
        container.contacts.list_contacts(actors.alice.principal, ContactFilters(), cursor=cursor)


@pytest.mark.parametrize("limit", [0, 501])
def test_limit_is_bounded(container: Container, actors: Actors, limit: int) -> None:
    with pytest.raises(ValidationFailed):
        container.contacts.list_contacts(actors.alice.principal, ContactFilters(), limit=limit)


@pytest.mark.parametrize("filters", [{"q": "a"}, {"q": "U-"}, {"created_before": NOON + dt.timedelta(days=2)},
                                     {"created_after": NOON}, {"updated_after": NOON - dt.timedelta(days=1), "q": "a"}],
                         ids=lambda value: repr(value)[:30])
def test_the_plan_for_range_filters_never_changes_the_answer(container: Container, actors: Actors,
                                                             people: dict[str, int], filters: dict[str, Any],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite a page is first looked for among the newest contacts, then by sorting all matches."""
    from cadenza.contacts import queries

    alice = actors.alice.principal
    expected = ids(container, alice, **filters)
    monkeypatch.setattr(queries, "WALK_WINDOW", 1)  # the newest contact alone: the sorting plan answers
    assert ids(container, alice, **filters) == expected
    first = container.contacts.list_contacts(alice, ContactFilters(**filters), limit=1)
    assert first.next_cursor is not None
    rest = container.contacts.list_contacts(alice, ContactFilters(**filters), limit=10, cursor=first.next_cursor)
    assert [c.id for c in first.items + rest.items] == expected
