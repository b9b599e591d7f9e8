"""Fields: custom fields of contacts and companies, listed for everyone, changed by writers only."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cadenza.auth import Role
from cadenza.bootstrap import Container
from cadenza.contacts.schemas import ContactCreate, FieldCreate, FieldOut
from tests.conftest import Actor, Actors
from tests.web.ui import SignIn, found, post_form

ENUM_FORM = {"entity": "contact", "key": "plan", "label": "Plan", "type": "enum",
             "options": "free\r\npro\r\n\r\nenterprise\r\n", "is_required": "on"}


def _fields(container: Container, actor: Actor, entity: str = "contact") -> list[FieldOut]:
    return container.fields.list_fields(actor.principal, entity)


def _by_key(container: Container, actor: Actor, key: str, entity: str = "contact") -> FieldOut:
    return next(field for field in _fields(container, actor, entity) if field.key == key)


def _analyst(container: Container, actors: Actors) -> Actor:
    user = container.access.create_user(actors.alice.principal, "ann@acme.test", "analyst password", Role.ANALYST)
    return Actor("ann", user.email, "analyst password", actors.alice.principal, {})


def _row(page: str, key: str) -> str:
    """The table row of the field `key`, on one line."""
    return found(rf'(<tr data-field="{key}">.*?</tr>)', page.replace("\n", " "))


def _flash(client: TestClient) -> str:
    return found(r'class="flash flash-success"[^>]*>.*?<span>(.*?)</span>', client.get("/fields").text.replace(
        "\n", ""))


def test_the_list_shows_contact_and_company_fields_of_this_workspace_only(sign_in_as: SignIn, actors: Actors,
                                                                           container: Container) -> None:
    alice = actors.alice.principal
    container.fields.create_field(alice, FieldCreate(key="plan", label="Plan", type="enum",
                                                     options=["free", "pro"], is_required=True))
    container.fields.create_field(alice, FieldCreate(key="birthday", label="Birthday", type="date",
                                                     is_personal=True))
    container.fields.create_field(alice, FieldCreate(key="industry", label="Industry", type="text",
                                                     entity="company"))
    container.fields.create_field(actors.charlie.principal, FieldCreate(key="secret_plan", label="Globex plan",
                                                                        type="text"))
    client = sign_in_as(actors.alice)

    page = client.get("/").text
    assert '<a class="nav-item" href="/fields"' in page
    response = client.get("/fields")

    assert response.status_code == 200
    assert 'class="nav-item is-active" href="/fields"' in response.text
    contacts = found(r'(data-testid="contact-fields".*?</table>)', response.text.replace("\n", " "))
    companies = found(r'(data-testid="company-fields".*?</table>)', response.text.replace("\n", " "))
    assert "<code>plan</code>" in contacts and "<code>birthday</code>" in contacts and "industry" not in contacts
    assert "<code>industry</code>" in companies and "plan" not in companies
    plan = _row(response.text, "plan")
    assert "Plan" in plan and ">enum<" in plan and "free, pro" in plan
    assert "required" in plan and "personal" not in plan
    birthday = _row(response.text, "birthday")
    assert ">date<" in birthday and "personal" in birthday and "required" not in birthday
    assert "Globex plan" not in response.text and "secret_plan" not in response.text


def test_a_workspace_without_fields_sees_empty_states(sign_in_as: SignIn, actors: Actors) -> None:
    page = sign_in_as(actors.alice).get("/fields").text

    assert "No contact fields yet" in page and "No company fields yet" in page
    assert "<table" not in page


@pytest.mark.parametrize("entity", ["contact", "company"])
def test_a_marketer_adds_an_enum_field_with_options(sign_in_as: SignIn, actors: Actors, container: Container,
                                                    entity: str) -> None:
    client = sign_in_as(actors.bob)

    response = post_form(client, "/fields", {**ENUM_FORM, "entity": entity})

    assert response.status_code == 303 and response.headers["location"] == "/fields"
    field = _by_key(container, actors.alice, "plan", entity)
    assert (field.label, str(field.type), field.options) == ("Plan", "enum", ["free", "pro", "enterprise"])
    assert (field.is_required, field.is_personal) == (True, False)
    other = "company" if entity == "contact" else "contact"
    assert _fields(container, actors.alice, other) == []
    assert _flash(client) == f"The {entity} field Plan (plan) is added."
    assert "free, pro, enterprise" in _row(client.get("/fields").text, "plan")


def test_the_entity_in_the_address_preselects_the_form(sign_in_as: SignIn, actors: Actors) -> None:
    page = sign_in_as(actors.alice).get("/fields?entity=company").text

    assert '<option value="company" selected>' in page
    assert '<option value="contact" selected>' not in page


def test_a_duplicate_key_is_shown_beside_the_key_and_the_form_keeps_its_values(sign_in_as: SignIn, actors: Actors,
                                                                              container: Container) -> None:
    container.fields.create_field(actors.alice.principal, FieldCreate(key="plan", label="Old plan", type="text"))
    client = sign_in_as(actors.alice)

    response = post_form(client, "/fields", {**ENUM_FORM, "is_personal": "on"})

    assert response.status_code == 409
    page = response.text.replace("\n", " ")
    key_field = found(r'(<input id="f-key".*?</div>)', page)
    assert 'value="plan"' in key_field and 'aria-invalid="true"' in key_field
    assert '<p class="field-error" id="key-error">A contact field &#39;plan&#39; already exists.</p>' in key_field
    assert 'id="f-label" name="label" type="text" value="Plan"' in page
    assert '<option value="enum" selected>' in page
    assert found(r'(?s)<textarea id="f-options"[^>]*>(.*?)</textarea>', response.text) == "free\npro\n\nenterprise"
    assert 'name="is_required" value="on" checked' in page and 'name="is_personal" value="on" checked' in page
    assert [(f.label, str(f.type)) for f in _fields(container, actors.alice)] == [("Old plan", "text")]


def test_the_same_key_may_name_a_contact_field_and_a_company_field(sign_in_as: SignIn, actors: Actors,
                                                                   container: Container) -> None:
    container.fields.create_field(actors.alice.principal, FieldCreate(key="plan", label="Plan", type="text"))
    client = sign_in_as(actors.alice)

    assert post_form(client, "/fields", {**ENUM_FORM, "entity": "company"}).status_code == 303
    assert _by_key(container, actors.alice, "plan", "company").options == ["free", "pro", "enterprise"]


@pytest.mark.parametrize("changes, name, message", [
    ({"key": "email"}, "key", "&#39;email&#39; is a built-in field name."),
    ({"key": "Plan Name"}, "key", "Use lowercase letters, digits and underscores"),
    ({"label": "  "}, "label", "Give the field a label"),
    ({"type": "colour"}, "type", "Choose one of the listed types."),
    ({"entity": "deal"}, "entity", "Choose contact or company."),
    ({"options": ""}, "options", "An enum field needs options."),
    ({"options": "pro\npro"}, "options", "Options must be non-empty and distinct."),
    ({"type": "number", "options": "1\n2"}, "options", "A number field takes no options."),
    ({"options": "x" * 201}, "options", "String should have at most 200 characters."),
], ids=["reserved", "bad-key", "no-label", "unknown-type", "unknown-entity", "enum-without-options",
        "repeated-option", "options-on-a-number", "long-option"])
def test_a_bad_field_is_shown_beside_its_input_and_nothing_is_added(sign_in_as: SignIn, actors: Actors,
                                                                    container: Container, changes: dict[str, str],
                                                                    name: str, message: str) -> None:
    client = sign_in_as(actors.alice)

    response = post_form(client, "/fields", {**ENUM_FORM, **changes})

    assert response.status_code == 422
    shown = found(rf'<p class="field-error" id="{name}-error">(.*?)</p>', response.text)
    assert shown.startswith(message)
    assert 'class="field has-error"' in response.text
    assert f'value="{changes.get("key", "plan")}"' in response.text
    assert _fields(container, actors.alice) == [] and _fields(container, actors.alice, "company") == []


def test_editing_changes_the_label_options_and_flags(sign_in_as: SignIn, actors: Actors,
                                                     container: Container) -> None:
    field = container.fields.create_field(actors.alice.principal, FieldCreate(
        key="plan", label="Plan", type="enum", options=["free", "pro"], is_required=True))
    client = sign_in_as(actors.bob)

    form = client.get(f"/fields/{field.id}/edit")
    assert form.status_code == 200
    page = form.text.replace("\n", " ")
    assert "<code>plan</code>" in page and "The key and the type can't change" in page
    assert 'name="key"' not in page and 'name="type"' not in page
    assert found(r'<textarea id="f-options"[^>]*>(.*?)</textarea>', page) == "free pro"  # one option a line

    response = post_form(client, f"/fields/{field.id}/edit", {
        "label": "Pricing plan", "options": "free\npro\nenterprise", "is_personal": "on"})

    assert response.status_code == 303 and response.headers["location"] == "/fields"
    saved = container.fields.get_field(actors.alice.principal, field.id)
    assert (saved.key, str(saved.type), saved.label) == ("plan", "enum", "Pricing plan")
    assert saved.options == ["free", "pro", "enterprise"]
    assert (saved.is_required, saved.is_personal) == (False, True)
    assert _flash(client) == "The field Pricing plan (plan) is saved."


def test_a_field_without_options_offers_none_to_edit(sign_in_as: SignIn, actors: Actors,
                                                     container: Container) -> None:
    field = container.fields.create_field(actors.alice.principal, FieldCreate(key="score", label="Score",
                                                                              type="number"))
    client = sign_in_as(actors.alice)

    assert 'name="options"' not in client.get(f"/fields/{field.id}/edit").text
    response = post_form(client, f"/fields/{field.id}/edit", {"label": "Lead score", "options": "ignored"})

    assert response.status_code == 303
    saved = container.fields.get_field(actors.alice.principal, field.id)
    assert (saved.label, saved.options) == ("Lead score", [])


@pytest.mark.parametrize("form, name, message", [
    ({"label": "Plan", "options": ""}, "options", "An enum field needs options."),
    ({"label": "", "options": "free"}, "label", "Give the field a label"),
], ids=["enum-emptied", "no-label"])
def test_a_bad_edit_is_shown_beside_its_input_and_saves_nothing(sign_in_as: SignIn, actors: Actors,
                                                                container: Container, form: dict[str, str],
                                                                name: str, message: str) -> None:
    field = container.fields.create_field(actors.alice.principal, FieldCreate(
        key="plan", label="Plan", type="enum", options=["free", "pro"]))
    client = sign_in_as(actors.alice)

    response = post_form(client, f"/fields/{field.id}/edit", {**form, "is_required": "on"})

    assert response.status_code == 422
    assert found(rf'<p class="field-error" id="{name}-error">(.*?)</p>', response.text).startswith(message)
    assert 'name="is_required" value="on" checked' in response.text
    assert container.fields.get_field(actors.alice.principal, field.id) == field


def test_deleting_a_field_keeps_the_values_stored_under_its_key(sign_in_as: SignIn, actors: Actors,
                                                                container: Container) -> None:
    alice = actors.alice.principal
    field = container.fields.create_field(alice, FieldCreate(key="plan", label="Plan", type="text"))
    contact = container.contacts.create_contact(alice, ContactCreate(email="ada@example.com",
                                                                     attributes={"plan": "pro"}))
    client = sign_in_as(actors.alice)
    listing = client.get("/fields").text
    delete_form = found(rf'(<form method="post" action="/fields/{field.id}/delete"[^>]*>)', listing)
    assert 'data-confirm="Delete the field Plan?"' in delete_form and "stay on the contacts" in delete_form

    response = post_form(client, f"/fields/{field.id}/delete")

    assert response.status_code == 303 and response.headers["location"] == "/fields"
    assert _fields(container, actors.alice) == []
    assert container.contacts.get_contact(alice, contact.id).attributes == {"plan": "pro"}
    assert _flash(client) == "The field Plan (plan) is deleted. Values stored under plan stay on the contacts."


def test_an_analyst_sees_the_fields_but_no_controls_and_cannot_change_them(sign_in_as: SignIn, actors: Actors,
                                                                            container: Container) -> None:
    field = container.fields.create_field(actors.alice.principal, FieldCreate(
        key="plan", label="Plan", type="enum", options=["free", "pro"]))
    client = sign_in_as(_analyst(container, actors))

    page = client.get("/fields")
    assert page.status_code == 200
    assert "<code>plan</code>" in page.text and "free, pro" in page.text
    assert 'action="/fields"' not in page.text and "Add a field" not in page.text
    assert f"/fields/{field.id}/edit" not in page.text and f"/fields/{field.id}/delete" not in page.text
    assert client.get(f"/fields/{field.id}/edit").status_code == 403

    refused = [
        post_form(client, "/fields", {**ENUM_FORM, "key": "tier"}),
        post_form(client, f"/fields/{field.id}/edit", {"label": "Hacked", "options": "x"}),
        post_form(client, f"/fields/{field.id}/delete"),
    ]

    assert [response.status_code for response in refused] == [403, 403, 403]
    assert all("You can&#39;t do that here" in response.text for response in refused)
    assert _fields(container, actors.alice) == [field]


def test_another_workspaces_field_is_not_found(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    field = container.fields.create_field(actors.charlie.principal, FieldCreate(
        key="plan", label="Plan", type="enum", options=["free", "pro"]))
    client = sign_in_as(actors.alice)

    assert client.get(f"/fields/{field.id}/edit").status_code == 404
    assert post_form(client, f"/fields/{field.id}/edit", {"label": "Mine now", "options": "a"}).status_code == 404
    assert post_form(client, f"/fields/{field.id}/delete").status_code == 404
    assert _fields(container, actors.charlie) == [field]


def test_a_delete_without_the_form_token_is_refused(sign_in_as: SignIn, actors: Actors,
                                                    container: Container) -> None:
    field = container.fields.create_field(actors.alice.principal, FieldCreate(key="plan", label="Plan",
                                                                              type="text"))
    client = sign_in_as(actors.alice)

    response = client.post(f"/fields/{field.id}/delete", data={"csrf_token": "forged"}, follow_redirects=False)

    assert response.status_code == 403
    assert re.search(r"This form could not be accepted", response.text)
    assert _fields(container, actors.alice) == [field]
