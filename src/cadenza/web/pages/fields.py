"""Fields: the workspace's custom fields of contacts and companies. Everyone reads them; writers change them.

The service checks permissions (READ to list, WRITE to change); the page only hides controls a reader
can't use, and a refused POST becomes the 403 page like everywhere else.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from cadenza.api.deps import get_container
from cadenza.contacts.field_types import FieldType
from cadenza.contacts.schemas import FIELD_KEY_PATTERN, FieldCreate, FieldOut, FieldUpdate
from cadenza.core.errors import CadenzaError
from cadenza.web.forms import errors_from_failure, errors_from_validation, text
from cadenza.web.session import UiSession, current_session, writer_session
from cadenza.web.templating import redirect, render, success
from cadenza.web.ui_route import UiRoute, checked_form

router = APIRouter(route_class=UiRoute, prefix="/fields")

ENTITIES = {"contact": "Contact", "company": "Company"}
TYPE_HELP = {
    FieldType.TEXT: "Text — any words",
    FieldType.NUMBER: "Number",
    FieldType.BOOLEAN: "Yes / no",
    FieldType.DATE: "Date",
    FieldType.ENUM: "Enum — one of the options",
    FieldType.LIST: "List — several values",
}
WITH_OPTIONS = (FieldType.ENUM, FieldType.LIST)
FLAGS = ("is_required", "is_personal")


def options_from(value: str) -> list[str]:
    """The options typed one per line; blank lines are not options."""
    return [line.strip() for line in value.splitlines() if line.strip()]


def _options_text(form: FormData) -> str:
    """The options textarea as typed, with a browser's CRLF line ends made plain newlines."""
    return "\n".join(text(form, "options").splitlines())


def _flags(form: FormData) -> dict[str, bool]:
    return {name: name in form for name in FLAGS}


def _failure_errors(failure: CadenzaError, default_field: str = "form") -> dict[str, str]:
    """The service's errors beside their fields; one error gets the service's whole sentence, which says more."""
    errors = errors_from_failure(failure, default_field)
    if len(failure.errors) == 1:
        errors = {name: failure.detail for name in errors}
    return errors


def _label_error(label: str) -> dict[str, str]:
    if not label:
        return {"label": "Give the field a label, such as “Plan”; forms and profiles show it."}
    if len(label) > 200:
        return {"label": "A label has at most 200 characters."}
    return {}


def _fields_page(request: Request, session: UiSession, *, values: dict[str, Any] | None = None,
                 errors: dict[str, str] | None = None, status: int = 200) -> Response:
    service = get_container(request).fields
    sections = [(entity, name, service.list_fields(session.principal, entity)) for entity, name in ENTITIES.items()]
    chosen = request.query_params.get("entity")
    defaults = {"entity": chosen if chosen in ENTITIES else "contact", "type": FieldType.TEXT.value}
    return render(request, "fields/list.html", status=status, section="fields", sections=sections,
                  entities=ENTITIES, types=list(FieldType), type_help=TYPE_HELP, with_options=WITH_OPTIONS,
                  values=values or defaults, errors=errors or {})


@router.get("", include_in_schema=False)
def list_fields(request: Request, session: UiSession = Depends(current_session)) -> Response:
    return _fields_page(request, session)


@router.post("", include_in_schema=False)
def create_field(request: Request, form: FormData = Depends(checked_form),
                 session: UiSession = Depends(current_session)) -> Response:
    values: dict[str, Any] = {"entity": text(form, "entity"), "key": text(form, "key"), "label": text(form, "label"),
                              "type": text(form, "type"), "options": _options_text(form), **_flags(form)}
    errors = _label_error(values["label"])
    if values["entity"] not in ENTITIES:
        errors["entity"] = "Choose contact or company."
    if not re.fullmatch(FIELD_KEY_PATTERN, values["key"]):
        errors["key"] = ("Use lowercase letters, digits and underscores, starting with a letter (at most 64), "
                         "such as plan or signed_up_on.")
    if values["type"] not in {t.value for t in FieldType}:
        errors["type"] = "Choose one of the listed types."
    if errors:
        return _fields_page(request, session, values=values, errors=errors, status=422)
    try:
        data = FieldCreate(entity=values["entity"], key=values["key"], label=values["label"], type=values["type"],
                           options=options_from(values["options"]), is_required=values["is_required"],
                           is_personal=values["is_personal"])
    except ValidationError as invalid:
        return _fields_page(request, session, values=values, errors=errors_from_validation(invalid), status=422)
    try:
        field = get_container(request).fields.create_field(session.principal, data)
    except CadenzaError as failure:
        if failure.status == 403:
            raise
        return _fields_page(request, session, values=values, errors=_failure_errors(failure, "key"),
                            status=failure.status)
    return redirect(request, "/fields", success(f"The {field.entity} field {field.label} ({field.key}) is added."))


def _edit_page(request: Request, field: FieldOut, values: dict[str, Any], errors: dict[str, str],
               status: int = 200) -> Response:
    return render(request, "fields/edit.html", status=status, section="fields", field=field,
                  entity_name=ENTITIES.get(field.entity, field.entity), type_help=TYPE_HELP,
                  has_options=field.type in WITH_OPTIONS, values=values, errors=errors)


@router.get("/{field_id:int}/edit", include_in_schema=False)
def edit_form(request: Request, field_id: int, session: UiSession = Depends(writer_session)) -> Response:
    field = get_container(request).fields.get_field(session.principal, field_id)
    values = {"label": field.label, "options": "\n".join(field.options), "is_required": field.is_required,
              "is_personal": field.is_personal}
    return _edit_page(request, field, values, {})


@router.post("/{field_id:int}/edit", include_in_schema=False)
def save(request: Request, field_id: int, form: FormData = Depends(checked_form),
         session: UiSession = Depends(current_session)) -> Response:
    service = get_container(request).fields
    field = service.get_field(session.principal, field_id)
    values: dict[str, Any] = {"label": text(form, "label"), "options": _options_text(form), **_flags(form)}
    errors = _label_error(values["label"])
    if errors:
        return _edit_page(request, field, values, errors, 422)
    options = options_from(values["options"]) if field.type in WITH_OPTIONS else None
    try:
        data = FieldUpdate(label=values["label"], options=options, is_required=values["is_required"],
                           is_personal=values["is_personal"])
        service.update_field(session.principal, field_id, data)
    except ValidationError as invalid:
        return _edit_page(request, field, values, errors_from_validation(invalid), 422)
    except CadenzaError as failure:
        if failure.status in (403, 404):
            raise
        return _edit_page(request, field, values, _failure_errors(failure), failure.status)
    return redirect(request, "/fields", success(f"The field {values['label']} ({field.key}) is saved."))


@router.post("/{field_id:int}/delete", include_in_schema=False)
def delete_field(request: Request, field_id: int, form: FormData = Depends(checked_form),
                 session: UiSession = Depends(current_session)) -> Response:
    service = get_container(request).fields
    field = service.get_field(session.principal, field_id)
    service.delete_field(session.principal, field_id)
    holders = "contacts" if field.entity == "contact" else "companies"
    return redirect(request, "/fields", success(f"The field {field.label} ({field.key}) is deleted. Values stored "
                                                f"under {field.key} stay on the {holders}."))
