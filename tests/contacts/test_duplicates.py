"""Finding likely duplicates: exact phone, +tagged email, similar names in one company; review and dismiss."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from cadenza.auth import Principal, Scope
from cadenza.bootstrap import Container
from cadenza.contacts import duplicates
from cadenza.contacts.duplicates import CandidateNotFound
from cadenza.contacts.models import Company, Contact, DuplicateCandidate
from cadenza.core.errors import Conflict, PermissionDenied
from tests.conftest import Actors


def add_company(container: Container, workspace_id: int, name: str) -> int:
    now = container.clock.now()
    with container.db.transaction() as session:
        company = Company(workspace_id=workspace_id, name=name, attributes={}, created_at=now, updated_at=now)
        session.add(company)
        session.flush()
        return company.id


def add(container: Container, workspace_id: int, **values: Any) -> int:
    now = container.clock.now()
    with container.db.transaction() as session:
        contact = Contact(workspace_id=workspace_id, attributes={}, created_at=now, updated_at=now, **values)
        session.add(contact)
        session.flush()
        return contact.id


def stored(container: Container) -> set[tuple[int, int, str, float, str]]:
    with container.db.read() as session:
        return {tuple(row) for row in session.execute(select(  # type: ignore[misc]
            DuplicateCandidate.contact_id, DuplicateCandidate.other_contact_id, DuplicateCandidate.reason,
            DuplicateCandidate.score, DuplicateCandidate.status))}


@pytest.fixture
def people(container: Container, actors: Actors) -> dict[str, int]:
    ws = actors.alice.workspace_id
    acme, globex = add_company(container, ws, "Acme"), add_company(container, ws, "Globex")
    return {
        "grace": add(container, ws, email="grace@example.com", first_name="Grace", last_name="Hopper",
                     company_id=acme),
        "grace_typo": add(container, ws, email="ghopper@example.com", first_name="Grace", last_name="Hooper",
                          company_id=acme),
        "grace_globex": add(container, ws, email="grace@globex.example", first_name="Grace", last_name="Hopper",
                            company_id=globex),
        "alan": add(container, ws, email="alan@example.com", first_name="Alan", last_name="Turing",
                    company_id=acme),
        "alan_reversed": add(container, ws, email="turing@example.com", first_name="Turing", last_name="Alan",
                             company_id=acme),
        "ada": add(container, ws, email="ada@example.com", phone="+442079460958", first_name="Ada"),
        "ada_phone": add(container, ws, email="lovelace@example.org", phone="+442079460958", last_name="Lovelace"),
        "ada_tagged": add(container, ws, email="ada+news@example.com"),
        "linus": add(container, ws, email="linus@example.com", first_name="Linus", last_name="Torvalds"),
        "linus_other": add(container, ws, email="linus@kernel.example", first_name="Linus", last_name="Pauling"),
        "solo_tagged": add(container, ws, email="nobody+tag@example.com"),
    }


def test_a_scan_finds_exact_and_fuzzy_pairs_and_not_unrelated_ones(container: Container, actors: Actors,
                                                                   people: dict[str, int]) -> None:
    found = container.duplicates.find_duplicates(actors.alice.principal)

    p = people
    assert found == 4
    assert stored(container) == {
        (p["ada"], p["ada_phone"], "phone", 1.0, "open"),
        (p["ada"], p["ada_tagged"], "email", 1.0, "open"),
        (p["grace"], p["grace_typo"], "name_company", 0.9167, "open"),
        (p["alan"], p["alan_reversed"], "name_company", 1.0, "open"),
    }


def test_a_second_scan_stores_nothing_new_and_a_dismissed_pair_stays_dismissed(container: Container, actors: Actors,
                                                                               people: dict[str, int]) -> None:
    alice = actors.alice.principal
    container.duplicates.find_duplicates(alice)
    best = container.duplicates.list_candidates(alice, limit=1).items[0]
    container.duplicates.dismiss_candidate(alice, best.id)

    assert container.duplicates.find_duplicates(alice) == 0
    assert sorted(status for *_, status in stored(container)) == ["dismissed", "open", "open", "open"]
    with pytest.raises(Conflict):
        container.duplicates.dismiss_candidate(alice, best.id)


def test_candidates_list_best_first_with_both_contacts(container: Container, actors: Actors,
                                                       people: dict[str, int]) -> None:
    alice = actors.alice.principal
    container.duplicates.find_duplicates(alice)

    first = container.duplicates.list_candidates(alice, limit=3)
    rest = container.duplicates.list_candidates(alice, limit=3, cursor=first.next_cursor)

    pairs = first.items + rest.items
    assert [(pair.reason, pair.score) for pair in pairs] == [  # equal scores: in the order found (by contact id)
        ("name_company", 1.0), ("phone", 1.0), ("email", 1.0), ("name_company", 0.9167)]
    assert rest.next_cursor is None
    phone = pairs[1]
    assert phone.contact is not None and phone.other_contact is not None
    assert (phone.contact.email, phone.other_contact.email, phone.other_contact.last_name) == (
        "ada@example.com", "lovelace@example.org", "Lovelace")
    assert container.duplicates.list_candidates(alice, status="dismissed").items == []


def test_a_number_shared_by_many_contacts_is_not_a_duplicate(container: Container, actors: Actors,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ws = actors.alice.workspace_id
    monkeypatch.setattr(duplicates, "MAX_SHARED", 3)
    for i in range(4):
        add(container, ws, email=f"desk{i}@example.com", phone="+442079460000")
    pair = [add(container, ws, email=f"pair{i}@example.com", phone="+442079461111") for i in range(3)]

    assert container.duplicates.find_duplicates(actors.alice.principal) == 2
    assert {(a, b) for a, b, *_ in stored(container)} == {(pair[0], pair[1]), (pair[0], pair[2])}


def test_the_scan_streams_in_chunks_with_a_bounded_window(container: Container, actors: Actors,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Small chunks and windows: names sorted apart by more than the window are not compared."""
    ws = actors.alice.workspace_id
    monkeypatch.setattr(duplicates, "STREAM_CHUNK", 2)
    monkeypatch.setattr(duplicates, "FLUSH_PAIRS", 1)
    monkeypatch.setattr(duplicates, "WINDOW", 2)
    smiths = [add(container, ws, email=f"s{i}@example.com", first_name="John", last_name="Smith") for i in range(4)]
    tagged = [add(container, ws, email=f"u{i}+x@example.com") for i in range(3)]
    plain = [add(container, ws, email=f"u{i}@example.com") for i in range(3)]

    assert container.duplicates.find_duplicates(actors.alice.principal) == 8
    pairs = {(a, b, reason) for a, b, reason, *_ in stored(container)}
    assert {(a, b) for a, b, reason in pairs if reason == "name_company"} == {
        (smiths[0], smiths[1]), (smiths[0], smiths[2]), (smiths[1], smiths[2]), (smiths[1], smiths[3]),
        (smiths[2], smiths[3])}
    assert {(a, b) for a, b, reason in pairs if reason == "email"} == set(zip(tagged, plain, strict=True))


def test_another_workspace_neither_scans_nor_sees_nor_dismisses(container: Container, actors: Actors,
                                                                people: dict[str, int]) -> None:
    charlie = actors.charlie.principal
    container.duplicates.find_duplicates(actors.alice.principal)
    candidate = container.duplicates.list_candidates(actors.alice.principal).items[0]

    assert container.duplicates.find_duplicates(charlie) == 0
    assert container.duplicates.list_candidates(charlie).items == []
    with pytest.raises(CandidateNotFound):
        container.duplicates.dismiss_candidate(charlie, candidate.id)


def test_scanning_needs_write_and_listing_needs_read(container: Container, actors: Actors,
                                                    people: dict[str, int]) -> None:
    reader = Principal.for_api_key(actors.alice.workspace_id, 1, "read key", Scope.READ)

    with pytest.raises(PermissionDenied):
        container.duplicates.find_duplicates(reader)
    assert stored(container) == set()
    assert container.duplicates.list_candidates(reader).items == []
