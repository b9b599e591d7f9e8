"""Companies added, edited and deleted through the UI by writers; readers see no controls and are refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cadenza.auth import Role
from cadenza.bootstrap import Container
from cadenza.contacts.schemas import CompanyCreate, CompanyOut, ContactCreate, FieldCreate
from tests.conftest import Actor, Actors
from tests.web.ui import SignIn, found, post_form


def _analyst(container: Container, actors: Actors) -> Actor:
    user = container.access.create_user(actors.alice.principal, "ann@acme.test", "analyst password", Role.ANALYST)
    return Actor("ann", user.email, "analyst password", actors.alice.principal, {})


def _companies(container: Container, actor: Actor) -> list[CompanyOut]:
    return container.companies.list_companies(actor.principal).items


def _flash(client: TestClient, url: str) -> str:
    page = client.get(url).text.replace("\n", "")
    return found(r'class="flash flash-success"[^>]*>.*?<span>(.*?)</span>', page)


def _input(page: str, name: str) -> str:
    """The field block of the input `name`, on one line."""
    return found(rf'(<input id="f-{name}".*?</div>)', page.replace("\n", " "))


def test_a_marketer_adds_a_company_with_its_custom_fields(sign_in_as: SignIn, actors: Actors,
                                                          container: Container) -> None:
    container.fields.create_field(actors.alice.principal, FieldCreate(
        entity="company", key="tier", label="Tier", type="enum", options=["smb", "enterprise"]))
    container.fields.create_field(actors.alice.principal, FieldCreate(
        entity="company", key="seats", label="Seats", type="number"))
    client = sign_in_as(actors.bob)
    listing = client.get("/companies").text
    assert '<a class="btn btn-primary" href="/companies/new">' in listing and "New company" in listing

    form = client.get("/companies/new")
    assert form.status_code == 200
    assert 'action="/companies/new"' in form.text and 'name="name"' in form.text
    assert 'name="attr.tier"' in form.text and '<option value="enterprise"' in form.text
    assert 'name="attr.seats"' in form.text

    response = post_form(client, "/companies/new", {"name": "Acme", "domain": "https://www.Acme.com/about",
                                                     "external_id": "acme-1", "attr.tier": "enterprise",
                                                     "attr.seats": ""})

    [company] = _companies(container, actors.alice)
    assert response.status_code == 303 and response.headers["location"] == f"/companies/{company.id}"
    assert (company.name, company.domain, company.external_id) == ("Acme", "acme.com", "acme-1")
    assert company.attributes == {"tier": "enterprise"}
    assert _flash(client, f"/companies/{company.id}") == "The company Acme is added."
    assert f'href="/companies/{company.id}">Acme</a>' in client.get("/companies").text


@pytest.mark.parametrize("changes, name, message", [
    ({"name": "  "}, "name", "Give the company a name"),
    ({"domain": "not a domain"}, "domain", "This value is not a domain name like acme.com."),
    ({"attr.seats": "many"}, "attr.seats", "This value must be a number"),
    ({"name": "x" * 256}, "name", "String should have at most 255 characters."),
], ids=["no-name", "bad-domain", "bad-number", "long-name"])
def test_a_bad_company_is_shown_beside_its_input_and_the_form_keeps_its_values(
        sign_in_as: SignIn, actors: Actors, container: Container, changes: dict[str, str], name: str,
        message: str) -> None:
    container.fields.create_field(actors.alice.principal, FieldCreate(
        entity="company", key="seats", label="Seats", type="number"))
    client = sign_in_as(actors.alice)
    form = {"name": "Acme", "domain": "acme.com", "external_id": "acme-1", "attr.seats": "12", **changes}

    response = post_form(client, "/companies/new", form)

    assert response.status_code == 422
    assert found(rf'<p class="field-error" id="{name}-error">(.*?)</p>', response.text).startswith(message)
    assert 'class="field has-error"' in response.text
    for key in ("domain", "external_id"):
        assert f'name="{key}" type="text" value="{form[key]}"' in response.text
    assert f'name="attr.seats" value="{form["attr.seats"]}"' in response.text
    assert _companies(container, actors.alice) == []


@pytest.mark.parametrize("field", ["domain", "external_id"])
def test_a_duplicate_domain_or_group_id_is_shown_beside_it_and_nothing_is_added(
        sign_in_as: SignIn, actors: Actors, container: Container, field: str) -> None:
    existing = container.companies.create_company(actors.alice.principal, CompanyCreate(
        name="Acme", domain="acme.com", external_id="acme-1"))
    client = sign_in_as(actors.alice)
    form = {"name": "Acme again", "domain": "other.com", "external_id": "other-1",
            field: "acme.com" if field == "domain" else "acme-1"}

    response = post_form(client, "/companies/new", form)

    assert response.status_code == 409
    block = _input(response.text, field)
    assert 'aria-invalid="true"' in block and f'value="{form[field]}"' in block
    assert found(rf'<p class="field-error" id="{field}-error">(.*?)</p>', block) == \
        f"A company with this {field} already exists."
    assert 'name="name" type="text" value="Acme again"' in response.text
    assert _companies(container, actors.alice) == [existing]


def test_editing_saves_what_changed_and_clears_what_was_emptied(sign_in_as: SignIn, actors: Actors,
                                                                container: Container) -> None:
    alice = actors.alice.principal
    container.fields.create_field(alice, FieldCreate(entity="company", key="tier", label="Tier", type="text"))
    company = container.companies.create_company(alice, CompanyCreate(
        name="Acme", domain="acme.com", external_id="acme-1", attributes={"tier": "smb"}))
    client = sign_in_as(actors.bob)
    page = client.get(f"/companies/{company.id}").text
    assert f'href="/companies/{company.id}/edit"' in page

    form = client.get(f"/companies/{company.id}/edit")
    assert form.status_code == 200
    assert 'name="name" type="text" value="Acme"' in form.text
    assert 'name="domain" type="text" value="acme.com"' in form.text
    assert 'name="attr.tier" value="smb"' in form.text

    response = post_form(client, f"/companies/{company.id}/edit", {
        "name": "Acme Corp", "domain": "", "external_id": "acme-1", "attr.tier": "enterprise"})

    assert response.status_code == 303 and response.headers["location"] == f"/companies/{company.id}"
    saved = container.companies.get_company(alice, company.id)
    assert (saved.name, saved.domain, saved.external_id) == ("Acme Corp", None, "acme-1")
    assert saved.attributes == {"tier": "enterprise"}
    assert _flash(client, f"/companies/{company.id}") == "The company Acme Corp is saved."


def test_an_edit_onto_another_companys_domain_is_shown_beside_it_and_saves_nothing(
        sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    alice = actors.alice.principal
    container.companies.create_company(alice, CompanyCreate(name="Globex", domain="globex.com"))
    company = container.companies.create_company(alice, CompanyCreate(name="Acme", domain="acme.com"))
    client = sign_in_as(actors.alice)

    response = post_form(client, f"/companies/{company.id}/edit", {"name": "Acme 2", "domain": "globex.com"})

    assert response.status_code == 409
    assert 'value="globex.com"' in _input(response.text, "domain")
    assert "A company with this domain already exists." in _input(response.text, "domain")
    assert 'name="name" type="text" value="Acme 2"' in response.text
    assert container.companies.get_company(alice, company.id) == company

    emptied = post_form(client, f"/companies/{company.id}/edit", {"name": ""})
    assert emptied.status_code == 422
    assert "Give the company a name" in _input(emptied.text, "name")
    assert container.companies.get_company(alice, company.id) == company


def test_deleting_a_company_keeps_its_contacts_without_a_company(sign_in_as: SignIn, actors: Actors,
                                                                  container: Container) -> None:
    alice = actors.alice.principal
    company = container.companies.create_company(alice, CompanyCreate(name="Acme", domain="acme.com"))
    ada = container.contacts.create_contact(alice, ContactCreate(email="ada@example.com", company_id=company.id))
    client = sign_in_as(actors.bob)
    page = client.get(f"/companies/{company.id}").text
    delete_form = found(rf'(<form method="post" action="/companies/{company.id}/delete"[^>]*>)',
                        page.replace("\n", " "))
    assert 'data-confirm="Delete Acme?"' in delete_form and 'data-confirm-button="Delete company"' in delete_form
    assert "Its contacts stay, without a company." in delete_form

    response = post_form(client, f"/companies/{company.id}/delete")

    assert response.status_code == 303 and response.headers["location"] == "/companies"
    assert _companies(container, actors.alice) == []
    assert container.contacts.get_contact(alice, ada.id).company_id is None
    assert _flash(client, "/companies") == "The company Acme is deleted. Its contacts stay, without a company."


def test_an_analyst_sees_no_controls_and_cannot_change_companies(sign_in_as: SignIn, actors: Actors,
                                                                 container: Container) -> None:
    company = container.companies.create_company(actors.alice.principal, CompanyCreate(name="Acme",
                                                                                       domain="acme.com"))
    client = sign_in_as(_analyst(container, actors))

    listing = client.get("/companies")
    detail = client.get(f"/companies/{company.id}")
    assert listing.status_code == detail.status_code == 200
    assert "Acme" in listing.text and "acme.com" in detail.text
    assert "/companies/new" not in listing.text and "New company" not in listing.text
    assert f"/companies/{company.id}/edit" not in detail.text and f"/companies/{company.id}/delete" not in detail.text
    assert client.get("/companies/new").status_code == 403
    assert client.get(f"/companies/{company.id}/edit").status_code == 403

    refused = [
        post_form(client, "/companies/new", {"name": "Initech"}),
        post_form(client, f"/companies/{company.id}/edit", {"name": "Hacked", "domain": "acme.com"}),
        post_form(client, f"/companies/{company.id}/delete"),
    ]

    assert [response.status_code for response in refused] == [403, 403, 403]
    assert all("You can&#39;t do that here" in response.text for response in refused)
    assert _companies(container, actors.alice) == [company]


def test_another_workspaces_company_is_not_found(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    company = container.companies.create_company(actors.charlie.principal, CompanyCreate(name="Globex"))
    client = sign_in_as(actors.alice)

    assert client.get(f"/companies/{company.id}/edit").status_code == 404
    assert post_form(client, f"/companies/{company.id}/edit", {"name": "Mine now"}).status_code == 404
    assert post_form(client, f"/companies/{company.id}/delete").status_code == 404
    assert _companies(container, actors.charlie) == [company]


def test_a_delete_without_the_form_token_is_refused(sign_in_as: SignIn, actors: Actors,
                                                    container: Container) -> None:
    company = container.companies.create_company(actors.alice.principal, CompanyCreate(name="Acme"))
    client = sign_in_as(actors.alice)

    response = client.post(f"/companies/{company.id}/delete", data={"csrf_token": "forged"},
                           follow_redirects=False)

    assert response.status_code == 403
    assert _companies(container, actors.alice) == [company]
