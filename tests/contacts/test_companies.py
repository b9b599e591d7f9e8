"""CompanyService: create, upsert, read, update, delete, list, a company's contacts."""

from __future__ import annotations

import datetime as dt

import pytest

from cadenza.bootstrap import Container
from cadenza.contacts.companies import normalise_domain
from cadenza.contacts.errors import CompanyNotFound, DuplicateCompany
from cadenza.contacts.schemas import CompanyCreate, CompanyOut, CompanyUpdate, CompanyUpsert, ContactFilters
from cadenza.core.clock import UTC, FrozenClock
from cadenza.core.errors import PermissionDenied, ValidationFailed
from cadenza.core.pagination import Page
from tests.conftest import Actors
from tests.contacts.factories import audit_entries, contact_facts, counts, make_company, make_contact, make_field

NOON = dt.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("raw", "domain"), [
    ("acme.com", "acme.com"),
    (" https://www.Acme.COM/about?x=1 ", "acme.com"),
    ("shop.acme.co.uk:8443", "shop.acme.co.uk"),
    ("bücher.de", "xn--bcher-kva.de"),
])
def test_domains_are_normalised(raw: str, domain: str) -> None:
    assert normalise_domain(raw) == domain


@pytest.mark.parametrize("raw", ["acme", "not a domain", "-acme.com", "http://", "a..com"])
def test_bad_domains_are_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalise_domain(raw)
    assert caught.value.errors == [{"field": "domain", "message": "is not a domain name like acme.com"}]


def test_create_get_and_audit(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    make_field(container, alice, "industry", "enum", options=["retail", "saas"], entity="company")
    company = container.companies.create_company(alice, CompanyCreate(
        name=" Acme ", domain="https://acme.com", external_id="g-1", attributes={"industry": "saas"}))
    assert company == CompanyOut(id=company.id, name="Acme", domain="acme.com", external_id="g-1",
                                 attributes={"industry": "saas"}, created_at=NOON, updated_at=NOON)
    assert container.companies.get_company(alice, company.id) == company
    assert audit_entries(container, "company.created")[0].changes == {
        "name": [None, "Acme"], "domain": [None, "acme.com"], "external_id": [None, "g-1"],
        "attributes.industry": [None, "saas"]}


def test_company_attributes_follow_company_fields_only(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    make_field(container, alice, "plan", "text")  # a contact field
    with pytest.raises(ValidationFailed) as caught:
        container.companies.create_company(alice, CompanyCreate(name="Acme", attributes={"plan": "x"}))
    assert caught.value.errors == [{"field": "attributes.plan", "message": "is not a custom field of this workspace"}]


@pytest.mark.parametrize("field", ["domain", "external_id"])
def test_duplicate_domain_or_external_id_is_a_conflict(container: Container, actors: Actors, field: str) -> None:
    alice = actors.alice.principal
    make_company(container, alice, domain="acme.com", external_id="g-1")
    before = counts(container)
    values = {"domain": "www.acme.com"} if field == "domain" else {"external_id": "g-1"}
    with pytest.raises(DuplicateCompany) as caught:
        container.companies.create_company(alice, CompanyCreate(name="Other", **values))  # type: ignore[arg-type]
    assert caught.value.errors == [{"field": field, "message": "already exists"}]
    assert counts(container) == before


def test_upsert_by_external_id_then_by_domain(container: Container, actors: Actors, clock: FrozenClock) -> None:
    alice = actors.alice.principal
    created, was_created = container.companies.upsert_company(alice, CompanyUpsert(external_id="g-1",
                                                                                   domain="acme.com"))
    assert (was_created, created.name) == (True, "acme.com")
    clock.advance(hours=2)
    renamed, was_created = container.companies.upsert_company(alice, CompanyUpsert(external_id="g-1", name="Acme"))
    assert (was_created, renamed.id, renamed.name, renamed.updated_at) == (
        False, created.id, "Acme", NOON + dt.timedelta(hours=2))
    by_domain, was_created = container.companies.upsert_company(alice, CompanyUpsert(domain="www.acme.com",
                                                                                     name="Acme Inc"))
    assert (was_created, by_domain.id, by_domain.name) == (False, created.id, "Acme Inc")
    with pytest.raises(DuplicateCompany):
        container.companies.upsert_company(alice, CompanyUpsert(external_id="g-2", domain="acme.com"))
    with pytest.raises(ValidationFailed):
        container.companies.upsert_company(alice, CompanyUpsert(name="Nameless"))


def test_update_is_partial(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    company = make_company(container, alice, name="Acme", domain="acme.com")
    updated = container.companies.update_company(alice, company.id, CompanyUpdate(domain=None, external_id="g-7"))
    assert (updated.name, updated.domain, updated.external_id) == ("Acme", None, "g-7")
    assert audit_entries(container, "company.updated")[0].changes == {"domain": ["acme.com", None],
                                                                      "external_id": [None, "g-7"]}
    with pytest.raises(ValidationFailed):
        container.companies.update_company(alice, company.id, CompanyUpdate(name=None))


def test_delete_unlinks_its_contacts_and_says_so(container: Container, actors: Actors, clock: FrozenClock) -> None:
    alice = actors.alice.principal
    acme = make_company(container, alice, name="Acme")
    first = make_contact(container, alice, company_id=acme.id)
    second = make_contact(container, alice, company_id=acme.id)
    other = make_contact(container, alice)
    clock.advance(days=1)

    container.companies.delete_company(alice, acme.id)

    with pytest.raises(CompanyNotFound):
        container.companies.get_company(alice, acme.id)
    for contact_id in (first.id, second.id):
        contact = container.contacts.get_contact(alice, contact_id)
        assert (contact.company_id, contact.company, contact.updated_at) == (None, None, NOON + dt.timedelta(days=1))
    assert container.contacts.get_contact(alice, other.id).updated_at == NOON
    assert sorted(p["contact_id"] for _ws, p in contact_facts(container) if p["fields"] == ["company_id"]) == [
        first.id, second.id]
    assert audit_entries(container, "company.deleted")[0].changes == {"name": "Acme", "domain": None}


def test_list_filters_and_pages(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    acme = make_company(container, alice, name="Acme", domain="acme.com")
    acorn = make_company(container, alice, name="acorn labs", domain="acorn.io")
    globe = make_company(container, alice, name="Globe", domain="globe.ac")
    make_company(container, actors.charlie.principal, name="Acme Elsewhere")

    def ids(page: Page[CompanyOut]) -> list[int]:
        return [c.id for c in page.items]

    assert ids(container.companies.list_companies(alice)) == [globe.id, acorn.id, acme.id]
    assert ids(container.companies.list_companies(alice, q="AC")) == [acorn.id, acme.id]
    assert ids(container.companies.list_companies(alice, q="glo")) == [globe.id]
    assert ids(container.companies.list_companies(alice, domain="www.acorn.io")) == [acorn.id]
    first = container.companies.list_companies(alice, limit=2)
    assert ids(first) == [globe.id, acorn.id]
    second = container.companies.list_companies(alice, limit=2, cursor=first.next_cursor)
    assert (ids(second), second.next_cursor) == ([acme.id], None)


def test_a_company_lists_its_contacts(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    acme = make_company(container, alice, name="Acme")
    first = make_contact(container, alice, company_id=acme.id)
    make_contact(container, alice)
    second = make_contact(container, alice, company_id=acme.id)
    page = container.companies.list_company_contacts(alice, acme.id)
    assert [c.id for c in page.items] == [second.id, first.id]
    assert [c.id for c in container.contacts.list_contacts(alice, ContactFilters(company_id=acme.id)).items] == [
        second.id, first.id]
    with pytest.raises(CompanyNotFound):
        container.companies.list_company_contacts(actors.charlie.principal, acme.id)


def test_other_workspaces_see_nothing_and_readers_cannot_write(container: Container, actors: Actors) -> None:
    from cadenza.auth import Principal, Scope

    acme = make_company(container, actors.alice.principal, name="Acme")
    charlie = actors.charlie.principal
    before = counts(container)
    for attempt in (lambda: container.companies.get_company(charlie, acme.id),
                    lambda: container.companies.update_company(charlie, acme.id, CompanyUpdate(name="Mine")),
                    lambda: container.companies.delete_company(charlie, acme.id)):
        with pytest.raises(CompanyNotFound):
            attempt()
    assert container.companies.list_companies(charlie).items == []
    reader = Principal.for_api_key(actors.alice.workspace_id, 0, "read key", Scope.READ)
    for attempt in (lambda: container.companies.create_company(reader, CompanyCreate(name="X")),
                    lambda: container.companies.update_company(reader, acme.id, CompanyUpdate(name="X")),
                    lambda: container.companies.delete_company(reader, acme.id)):
        with pytest.raises(PermissionDenied):
            attempt()
    assert counts(container) == before
