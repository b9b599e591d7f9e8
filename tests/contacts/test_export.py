"""Contacts exported as CSV: every matching contact once, formula-like cells escaped, and an import of the file
into another workspace gives the same people back."""

from __future__ import annotations

import csv
import io

import pytest

from cadenza.auth import Principal, Scope
from cadenza.bootstrap import Container
from cadenza.contacts.export import HEADERS, contact_csv
from cadenza.contacts.schemas import ContactFilters
from cadenza.core.errors import PermissionDenied, ValidationFailed
from tests.conftest import Actors
from tests.contacts.factories import audit_entries, make_company, make_contact, make_field
from tests.contacts.test_importing import run


def _rows(lines: object) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(lines))))  # type: ignore[arg-type]


def _people(container: Container, principal: Principal) -> list[tuple[object, ...]]:
    page = container.contacts.list_contacts(principal, ContactFilters(), limit=500)
    return sorted((c.email, c.phone, c.first_name, c.last_name, c.external_id, c.company.name if c.company else None,
                   tuple(c.tags), tuple(sorted(c.attributes.items()))) for c in page.items)


@pytest.fixture
def acme(container: Container, actors: Actors) -> Principal:
    alice = actors.alice.principal
    make_field(container, alice, "plan", "enum", options=["free", "pro"])
    make_field(container, alice, "seats", "number")
    make_field(container, alice, "interests", "list")
    make_field(container, alice, "beta", "boolean")
    initech = make_company(container, alice, name="Initech")
    make_contact(container, alice, email="ada@example.com", first_name="Ada", last_name="Lovelace",
                 phone="+442079460000", company_id=initech.id, tags=["vip", "newsletter"], external_id="u-1",
                 attributes={"plan": "pro", "seats": 12, "interests": ["maths", "engines"], "beta": True})
    make_contact(container, alice, email="grace@example.com", first_name="=HYPERLINK(\"http://x\")",
                 tags=["newsletter"], attributes={"plan": "free", "seats": 2.5})
    make_contact(container, alice, email="alan@example.com", last_name="@Turing")
    return alice


def test_the_export_has_every_contact_with_its_fields_and_escapes_formula_like_cells(
        container: Container, acme: Principal) -> None:
    rows = _rows(container.contacts.export_csv(acme, ContactFilters()))

    assert list(rows[0]) == [*HEADERS, "beta", "interests", "plan", "seats"]
    assert [row["email"] for row in rows] == ["alan@example.com", "grace@example.com", "ada@example.com"]
    ada = rows[2]
    assert {k: ada[k] for k in ("first_name", "phone", "company", "external_id", "tags", "plan", "seats",
                                "interests", "beta")} == {
        "first_name": "Ada", "phone": "'+442079460000", "company": "Initech", "external_id": "u-1",
        "tags": "newsletter; vip", "plan": "pro", "seats": "12", "interests": "maths; engines", "beta": "true"}
    assert rows[1]["first_name"] == "'=HYPERLINK(\"http://x\")"
    assert rows[0]["last_name"] == "'@Turing"
    assert rows[0]["created_at"].startswith("20")


def test_the_export_follows_the_lists_filters_and_is_audited(container: Container, acme: Principal) -> None:
    rows = _rows(container.contacts.export_csv(acme, ContactFilters(tag="newsletter")))

    assert [row["email"] for row in rows] == ["grace@example.com", "ada@example.com"]
    entry = audit_entries(container, "contacts.exported")[-1]
    assert entry.changes == {"filters": {"tag": "newsletter"}}


def test_a_bad_filter_is_refused_before_anything_is_sent(container: Container, acme: Principal) -> None:
    with pytest.raises(ValidationFailed):
        container.contacts.export_csv(acme, ContactFilters(attributes={"not a key!": "x"}))


def test_pages_follow_one_another_with_every_contact_once(container: Container, acme: Principal) -> None:
    for n in range(7):
        make_contact(container, acme, email=f"extra{n}@example.com")

    rows = _rows(contact_csv(container.db, acme.workspace_id, ContactFilters(), page=2))

    assert len(rows) == 10 and len({row["id"] for row in rows}) == 10
    assert [int(row["id"]) for row in rows] == sorted((int(row["id"]) for row in rows), reverse=True)


def test_a_reader_exports_and_an_ingest_key_cannot(container: Container, actors: Actors, acme: Principal) -> None:
    bob = actors.bob.principal
    assert len(_rows(container.contacts.export_csv(bob, ContactFilters()))) == 3
    ingest_only = container.access.authenticate_api_key(actors.alice.keys[Scope.INGEST])
    with pytest.raises(PermissionDenied):
        container.contacts.export_csv(ingest_only, ContactFilters())


def test_importing_the_export_into_another_workspace_gives_the_same_people(container: Container, actors: Actors,
                                                                          acme: Principal) -> None:
    exported = "".join(container.contacts.export_csv(acme, ContactFilters()))
    charlie = actors.charlie.principal
    make_field(container, charlie, "plan", "enum", options=["free", "pro"])
    make_field(container, charlie, "seats", "number")
    make_field(container, charlie, "interests", "list")
    make_field(container, charlie, "beta", "boolean")
    mapping = {header: "ignore" for header in ("id", "created_at", "updated_at", "last_seen_at")}
    mapping.update({"email": "email", "first_name": "first_name", "last_name": "last_name", "phone": "phone",
                    "company": "company", "external_id": "external_id", "tags": "tags", "timezone": "timezone",
                    "plan": "field:plan", "seats": "field:seats", "interests": "field:interests",
                    "beta": "field:beta"})

    done = run(container, charlie, exported, mapping=mapping)

    assert (done.status, done.rows_created, done.rows_failed) == ("done", 3, 0)
    assert _people(container, charlie) == _people(container, acme)
