"""Adding a contact, and editing one: a plain form whose POST sends only what changed (PATCH semantics)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from cadenza.api.deps import get_container
from cadenza.contacts.schemas import ContactCreate, ContactOut, ContactUpdate, FieldOut
from cadenza.core.errors import CadenzaError
from cadenza.web.forms import errors_from_failure, errors_from_validation, optional_int, text
from cadenza.web.pages.contacts import company_choices
from cadenza.web.presenting import form_value
from cadenza.web.session import UiSession, current_session, writer_session
from cadenza.web.templating import redirect, render, success
from cadenza.web.ui_route import UiRoute, checked_form

router = APIRouter(route_class=UiRoute, prefix="/contacts")

STANDARD = ("first_name", "last_name", "email", "phone", "external_id", "timezone")


def current_values(contact: ContactOut, fields: list[FieldOut]) -> dict[str, str]:
    values = {name: form_value(getattr(contact, name)) for name in STANDARD}
    values["company_id"] = form_value(contact.company_id)
    for field in fields:
        values[f"attr.{field.key}"] = form_value(contact.attributes.get(field.key))
    return values


def changed_values(form: FormData, before: dict[str, str]) -> dict[str, str]:
    """The submitted values that differ from what the form showed: only these are sent."""
    return {name: text(form, name) for name, shown in before.items() if name in form and text(form, name) != shown}


def update_from(changes: dict[str, str]) -> ContactUpdate:
    data: dict[str, Any] = {name: value or None for name, value in changes.items() if name in STANDARD}
    if "company_id" in changes:
        data["company_id"] = optional_int(changes["company_id"])
    attributes = {name.removeprefix("attr."): value or None for name, value in changes.items()
                  if name.startswith("attr.")}
    if attributes:
        data["attributes"] = attributes
    return ContactUpdate(**data)


def _edit_page(request: Request, session: UiSession, contact: ContactOut | None, fields: list[FieldOut],
               values: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
    selected = optional_int(values.get("company_id"))
    return render(request, "contacts/edit.html", status=status, section="contacts", contact=contact, fields=fields,
                  values=values, errors=errors, companies=company_choices(request, session, selected))


def blank_values(fields: list[FieldOut]) -> dict[str, str]:
    return {**{name: "" for name in STANDARD}, "company_id": "", "tags": "",
            **{f"attr.{field.key}": "" for field in fields}}


def create_from(values: dict[str, str]) -> ContactCreate:
    """The filled-in values only: an empty box is no value."""
    data: dict[str, Any] = {name: values[name] for name in STANDARD if values.get(name)}
    if values.get("company_id"):
        data["company_id"] = optional_int(values["company_id"])
    attributes = {name.removeprefix("attr."): value for name, value in values.items()
                  if name.startswith("attr.") and value}
    if attributes:
        data["attributes"] = attributes
    tags = [tag.strip() for tag in values.get("tags", "").split(",") if tag.strip()]
    if tags:
        data["tags"] = tags
    return ContactCreate(**data)


@router.get("/new", include_in_schema=False)
def new_form(request: Request, session: UiSession = Depends(writer_session)) -> Response:
    fields = get_container(request).fields.list_fields(session.principal, entity="contact")
    return _edit_page(request, session, None, fields, blank_values(fields), {})


@router.post("/new", include_in_schema=False)
def add(request: Request, form: FormData = Depends(checked_form),
        session: UiSession = Depends(current_session)) -> Response:
    container = get_container(request)
    fields = container.fields.list_fields(session.principal, entity="contact")
    values = {name: text(form, name) for name in blank_values(fields)}
    try:
        contact = container.contacts.create_contact(session.principal, create_from(values))
    except ValidationError as invalid:
        return _edit_page(request, session, None, fields, values, errors_from_validation(invalid), 422)
    except CadenzaError as failure:
        if failure.status == 403:
            raise
        return _edit_page(request, session, None, fields, values, errors_from_failure(failure), failure.status)
    return redirect(request, f"/contacts/{contact.id}", success("Contact added."))


@router.get("/{contact_id:int}/edit", include_in_schema=False)
def edit_form(request: Request, contact_id: int, session: UiSession = Depends(writer_session)) -> Response:
    container = get_container(request)
    contact = container.contacts.get_contact(session.principal, contact_id)
    fields = container.fields.list_fields(session.principal, entity="contact")
    return _edit_page(request, session, contact, fields, current_values(contact, fields), {})


@router.post("/{contact_id:int}/edit", include_in_schema=False)
def save(request: Request, contact_id: int, form: FormData = Depends(checked_form),
         session: UiSession = Depends(current_session)) -> Response:
    container = get_container(request)
    contact = container.contacts.get_contact(session.principal, contact_id)
    fields = container.fields.list_fields(session.principal, entity="contact")
    before = current_values(contact, fields)
    submitted = {**before, **{name: text(form, name) for name in before if name in form}}
    changes = changed_values(form, before)
    if not changes:
        return redirect(request, f"/contacts/{contact_id}", success("Nothing changed."))
    try:
        container.contacts.update_contact(session.principal, contact_id, update_from(changes))
    except ValidationError as invalid:
        return _edit_page(request, session, contact, fields, submitted, errors_from_validation(invalid), 422)
    except CadenzaError as failure:
        if failure.status in (403, 404):
            raise
        return _edit_page(request, session, contact, fields, submitted, errors_from_failure(failure), failure.status)
    return redirect(request, f"/contacts/{contact_id}", success("Saved."))
