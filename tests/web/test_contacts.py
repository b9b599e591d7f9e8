"""Contact and company pages over a TestClient."""

from __future__ import annotations

import re

from cadenza.auth import Role
from cadenza.bootstrap import Container
from cadenza.contacts.schemas import CompanyCreate, ContactCreate
from tests.conftest import Actor, Actors
from tests.web.factories import make_contacts, seed_demo_like, track_history
from tests.web.ui import SignIn, link, post_form


def listed_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'class="row-link" href="/contacts/(\d+)"', html)]


def test_the_list_pages_newest_first_with_next_and_previous(sign_in_as: SignIn, actors: Actors,
                                                            container: Container) -> None:
    people = make_contacts(container, actors.alice.principal, 30)
    newest_first = [p.id for p in reversed(people)]
    client = sign_in_as(actors.alice)

    first = client.get("/contacts").text
    assert listed_ids(first) == newest_first[:25]
    assert 'rel="prev"' not in first
    second = client.get(link(first, "next")).text
    assert listed_ids(second) == newest_first[25:]
    assert 'rel="next"' not in second
    back = client.get(link(second, "prev")).text
    assert listed_ids(back) == newest_first[:25]


def test_search_and_filters_narrow_the_list(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    alice = actors.alice.principal
    initech = container.companies.create_company(alice, CompanyCreate(name="Initech"))
    ada = container.contacts.create_contact(alice, ContactCreate(first_name="Ada", last_name="Lovelace",
                                                                 email="ada@example.com", tags=["vip"]))
    grace = container.contacts.create_contact(alice, ContactCreate(first_name="Grace", email="grace@example.com",
                                                                   company_id=initech.id, tags=["vip"]))
    container.contacts.create_contact(alice, ContactCreate(first_name="Alan", email="alan@example.com"))
    client = sign_in_as(actors.alice)

    assert listed_ids(client.get("/contacts?q=ada").text) == [ada.id]
    assert listed_ids(client.get("/contacts?tag=vip").text) == [grace.id, ada.id]
    assert listed_ids(client.get(f"/contacts?tag=vip&company={initech.id}").text) == [grace.id]
    assert listed_ids(client.get("/contacts?created_after=2026-01-02").text) == []
    empty = client.get("/contacts?q=zzz").text
    assert "No contacts match" in empty and 'value="zzz"' in empty


def test_the_list_shows_each_column(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    alice = actors.alice.principal
    initech = container.companies.create_company(alice, CompanyCreate(name="Initech"))
    container.contacts.create_contact(alice, ContactCreate(
        first_name="Ada", last_name="Lovelace", email="ada@example.com", phone="+442079460000",
        company_id=initech.id, tags=["vip", "newsletter"]))

    row = sign_in_as(actors.alice).get("/contacts").text

    for shown in ("Ada Lovelace", "ada@example.com", "+442079460000", f'href="/companies/{initech.id}">Initech<',
                  ">vip<", ">newsletter<", "Jan 1, 2026"):
        assert shown in row


def test_another_workspaces_contact_is_not_found(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    theirs = make_contacts(container, actors.charlie.principal, 1)[0]
    client = sign_in_as(actors.alice)

    response = client.get(f"/contacts/{theirs.id}")

    assert response.status_code == 404
    assert "We couldn&#39;t find that" in response.text
    assert listed_ids(client.get("/contacts").text) == []


def test_adding_and_removing_tags(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    contact = make_contacts(container, actors.alice.principal, 1, tags=["trial"])[0]
    client = sign_in_as(actors.alice)

    response = post_form(client, f"/contacts/{contact.id}/tags", {"tags": "vip, webinar "})
    assert response.status_code == 303 and response.headers["location"] == f"/contacts/{contact.id}"
    assert sorted(container.contacts.get_contact(actors.alice.principal, contact.id).tags) == ["trial", "vip",
                                                                                              "webinar"]

    response = post_form(client, f"/contacts/{contact.id}/tags/remove", {"tag": "trial"})
    assert response.status_code == 303
    assert sorted(container.contacts.get_contact(actors.alice.principal, contact.id).tags) == ["vip", "webinar"]


def _analyst(container: Container, actors: Actors) -> Actor:
    user = container.access.create_user(actors.alice.principal, "ann@acme.test", "analyst password", Role.ANALYST)
    return Actor("ann", user.email, "analyst password", actors.alice.principal, {})


def test_an_analyst_reads_but_cannot_tag(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    contact = make_contacts(container, actors.alice.principal, 1, tags=["trial"])[0]
    client = sign_in_as(_analyst(container, actors))

    page = client.get("/contacts").text
    assert contact.email in page and "Import CSV" not in page

    response = post_form(client, f"/contacts/{contact.id}/tags", {"tags": "vip"})

    assert response.status_code == 403
    assert container.contacts.get_contact(actors.alice.principal, contact.id).tags == ["trial"]


def test_editing_sends_only_what_changed(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    from sqlalchemy import select

    from cadenza.auth.models import AuditEntry

    contact = make_contacts(container, actors.alice.principal, 1, timezone="Europe/Paris")[0]
    client = sign_in_as(actors.alice)
    form = client.get(f"/contacts/{contact.id}/edit").text
    assert 'value="Europe/Paris"' in form

    response = post_form(client, f"/contacts/{contact.id}/edit", {
        "first_name": contact.first_name or "", "last_name": contact.last_name or "", "email": contact.email or "",
        "phone": "", "external_id": "", "timezone": "America/New_York", "company_id": ""})

    assert response.status_code == 303
    assert container.contacts.get_contact(actors.alice.principal, contact.id).timezone == "America/New_York"
    with container.db.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "contact.updated")).one()
        assert entry.changes == {"timezone": ["Europe/Paris", "America/New_York"]}


def test_a_bad_edit_is_shown_beside_its_field_and_saves_nothing(sign_in_as: SignIn, actors: Actors,
                                                                container: Container) -> None:
    contact = make_contacts(container, actors.alice.principal, 1)[0]
    client = sign_in_as(actors.alice)

    response = post_form(client, f"/contacts/{contact.id}/edit", {"email": "not an email", "first_name": "Changed"})

    assert response.status_code == 422
    assert 'id="email-error"' in response.text
    assert 'value="not an email"' in response.text
    after = container.contacts.get_contact(actors.alice.principal, contact.id)
    assert (after.email, after.first_name) == (contact.email, contact.first_name)


def test_companies_list_and_page_with_its_contacts(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    alice = actors.alice.principal
    initech = container.companies.create_company(alice, CompanyCreate(name="Initech", domain="initech.example"))
    container.companies.create_company(alice, CompanyCreate(name="Globex"))
    staff = make_contacts(container, alice, 2, company_id=initech.id)
    make_contacts(container, alice, 1, start=5)
    client = sign_in_as(actors.alice)

    listing = client.get("/companies?q=ini").text
    assert "Initech" in listing and "Globex" not in listing

    page = client.get(f"/companies/{initech.id}").text
    assert "initech.example" in page
    assert listed_ids(page) == [staff[1].id, staff[0].id]


def test_the_profile_shows_fields_custom_fields_and_the_timeline_newest_first(
        sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    data = seed_demo_like(container, actors.alice.principal, contacts=2)
    ada = data.contacts[0]
    track_history(container, actors.alice.principal, ada.external_id or "", events=25)
    client = sign_in_as(actors.alice)

    page = client.get(f"/contacts/{ada.id}").text

    assert f"<h1>{ada.first_name} {ada.last_name}</h1>" in page
    assert "<dt>Plan</dt><dd>pro</dd>" in page  # set by the identify call in the history
    assert "<dt>Lifetime value</dt><dd>49</dd>" in page
    assert f"<dt>User id</dt><dd><code>{ada.external_id}</code></dd>" in page
    times = re.findall(r'<time class="timeline-time" datetime="([^"]+)"', page)
    assert len(times) == 20 and times == sorted(times, reverse=True)
    assert "Invoice Paid" in page and "amount: 49, currency: EUR" in page
    older = client.get(link(page, "next")).text
    older_times = re.findall(r'<time class="timeline-time" datetime="([^"]+)"', older)
    assert len(older_times) == 5 and older_times[0] < times[-1]
    assert "Page 2" in older


def test_deleting_a_contact_asks_first(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    contact = make_contacts(container, actors.alice.principal, 1)[0]
    client = sign_in_as(actors.alice)

    assert "This can't be undone." in client.get(f"/contacts/{contact.id}/delete").text
    response = post_form(client, f"/contacts/{contact.id}/delete")

    assert response.status_code == 303 and response.headers["location"] == "/contacts"
    assert client.get(f"/contacts/{contact.id}").status_code == 404


def test_a_writer_adds_a_contact_with_its_company_tags_and_custom_fields(sign_in_as: SignIn, actors: Actors,
                                                                         container: Container) -> None:
    from cadenza.contacts.schemas import FieldCreate

    alice = actors.alice.principal
    container.fields.create_field(alice, FieldCreate(key="plan", label="Plan", type="enum", options=["free", "pro"]))
    company = container.companies.create_company(alice, CompanyCreate(name="Initech"))
    client = sign_in_as(actors.bob)
    assert 'href="/contacts/new"' in client.get("/contacts").text
    form = client.get("/contacts/new").text
    assert 'name="attr.plan"' in form and 'name="tags"' in form and "Initech" in form

    response = post_form(client, "/contacts/new", {
        "first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com", "phone": "", "external_id": "",
        "timezone": "", "company_id": str(company.id), "tags": "vip, newsletter", "attr.plan": "pro"})

    assert response.status_code == 303
    contact_id = int(response.headers["location"].rsplit("/", 1)[1])
    contact = container.contacts.get_contact(alice, contact_id)
    assert (contact.email, contact.first_name, contact.company_id) == ("ada@example.com", "Ada", company.id)
    assert (sorted(contact.tags), contact.attributes) == (["newsletter", "vip"], {"plan": "pro"})
    assert "Contact added." in client.get(response.headers["location"]).text


def test_a_bad_new_contact_is_shown_beside_its_fields_and_nothing_is_added(sign_in_as: SignIn, actors: Actors,
                                                                           container: Container) -> None:
    from cadenza.contacts.schemas import ContactFilters

    container.contacts.create_contact(actors.alice.principal, ContactCreate(email="taken@example.com"))
    client = sign_in_as(actors.alice)

    bad = post_form(client, "/contacts/new", {"email": "not an email", "first_name": "Kept"})
    taken = post_form(client, "/contacts/new", {"email": "taken@example.com", "first_name": "Again"})

    assert bad.status_code == 422
    assert 'id="email-error"' in bad.text and 'value="Kept"' in bad.text
    assert taken.status_code == 409 and 'value="Again"' in taken.text
    assert len(container.contacts.list_contacts(actors.alice.principal, ContactFilters()).items) == 1


def test_an_analyst_cannot_add_a_contact(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    from cadenza.contacts.schemas import ContactFilters

    client = sign_in_as(_analyst(container, actors))
    assert 'href="/contacts/new"' not in client.get("/contacts").text

    assert client.get("/contacts/new").status_code == 403
    assert post_form(client, "/contacts/new", {"email": "sneaky@example.com"}).status_code == 403
    assert container.contacts.list_contacts(actors.alice.principal, ContactFilters()).items == []
