"""Companies: the list with search, each company with its contacts, and writers' forms to add, edit and delete.

The service checks permissions (READ to see, WRITE to change); the pages only hide controls a reader can't use,
and a refused POST becomes the 403 page like everywhere else.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from cadenza.api.deps import get_container
from cadenza.contacts.schemas import CompanyCreate, CompanyOut, CompanyUpdate, FieldOut
from cadenza.core.errors import CadenzaError
from cadenza.web.forms import errors_from_failure, errors_from_validation, text
from cadenza.web.paging import pager
from cadenza.web.presenting import form_value, show_value
from cadenza.web.session import UiSession, current_session, writer_session
from cadenza.web.templating import redirect, render, success
from cadenza.web.ui_route import UiRoute, checked_form

router = APIRouter(route_class=UiRoute, prefix="/companies")

PAGE_SIZE = 25
STANDARD = ("name", "domain", "external_id")


@router.get("", include_in_schema=False)
def list_companies(request: Request, q: str | None = None, cursor: str | None = None,
                   session: UiSession = Depends(current_session)) -> Response:
    q = (q or "").strip()[:200] or None
    page = get_container(request).companies.list_companies(session.principal, q=q, limit=PAGE_SIZE, cursor=cursor)
    return render(request, "companies/list.html", section="companies", companies=page.items, q=q or "",
                  pages=pager(request, page.next_cursor))


@router.get("/{company_id:int}", include_in_schema=False)
def company_page(request: Request, company_id: int, cursor: str | None = None,
                 session: UiSession = Depends(current_session)) -> Response:
    container = get_container(request)
    company = container.companies.get_company(session.principal, company_id)
    contacts = container.companies.list_company_contacts(session.principal, company_id, limit=PAGE_SIZE,
                                                         cursor=cursor)
    attributes = [(key, show_value(value)) for key, value in sorted(company.attributes.items())]
    return render(request, "companies/detail.html", section="companies", company=company, attributes=attributes,
                  contacts=contacts.items, pages=pager(request, contacts.next_cursor))


# ---- add, edit, delete --------------------------------------------------------------------------


def _fields(request: Request, session: UiSession) -> list[FieldOut]:
    return get_container(request).fields.list_fields(session.principal, entity="company")


def current_values(company: CompanyOut, fields: list[FieldOut]) -> dict[str, str]:
    values = {name: form_value(getattr(company, name)) for name in STANDARD}
    for field in fields:
        values[f"attr.{field.key}"] = form_value(company.attributes.get(field.key))
    return values


def _submitted(form: FormData, names: list[str]) -> dict[str, str]:
    return {name: text(form, name) for name in names}


def _attributes(values: dict[str, str], *, keep_empty: bool) -> dict[str, Any]:
    """`attr.KEY` inputs as attributes; an empty one is left out of a new company and clears a saved one."""
    return {name.removeprefix("attr."): value or None for name, value in values.items()
            if name.startswith("attr.") and (value or keep_empty)}


def update_from(changes: dict[str, str]) -> CompanyUpdate:
    """Only what changed is sent; an emptied domain or external id is cleared."""
    data: dict[str, Any] = {name: value or None for name, value in changes.items() if name in STANDARD}
    attributes = _attributes(changes, keep_empty=True)
    if attributes:
        data["attributes"] = attributes
    return CompanyUpdate(**data)


def _name_error(name: str) -> dict[str, str]:
    return {} if name else {"name": "Give the company a name, such as “Acme”."}


def _failure_errors(failure: CadenzaError) -> dict[str, str]:
    """The service's errors beside their inputs; a duplicate gets the service's whole sentence, which says more."""
    errors = errors_from_failure(failure, "name")
    if failure.status == 409 and len(failure.errors) == 1:
        errors = {name: failure.detail for name in errors}
    return errors


def _form_page(request: Request, company: CompanyOut | None, fields: list[FieldOut], values: dict[str, str],
               errors: dict[str, str], status: int = 200) -> Response:
    return render(request, "companies/edit.html", status=status, section="companies", company=company,
                  fields=fields, values=values, errors=errors)


@router.get("/new", include_in_schema=False)
def new_form(request: Request, session: UiSession = Depends(writer_session)) -> Response:
    fields = _fields(request, session)
    return _form_page(request, None, fields, {}, {})


@router.post("/new", include_in_schema=False)
def create_company(request: Request, form: FormData = Depends(checked_form),
                   session: UiSession = Depends(current_session)) -> Response:
    fields = _fields(request, session)
    values = _submitted(form, [*STANDARD, *(f"attr.{field.key}" for field in fields)])
    errors = _name_error(values["name"])
    if errors:
        return _form_page(request, None, fields, values, errors, 422)
    try:
        data = CompanyCreate(name=values["name"], domain=values["domain"] or None,
                             external_id=values["external_id"] or None,
                             attributes=_attributes(values, keep_empty=False))
        company = get_container(request).companies.create_company(session.principal, data)
    except ValidationError as invalid:
        return _form_page(request, None, fields, values, errors_from_validation(invalid), 422)
    except CadenzaError as failure:
        if failure.status == 403:
            raise
        return _form_page(request, None, fields, values, _failure_errors(failure), failure.status)
    return redirect(request, f"/companies/{company.id}", success(f"The company {company.name} is added."))


@router.get("/{company_id:int}/edit", include_in_schema=False)
def edit_form(request: Request, company_id: int, session: UiSession = Depends(writer_session)) -> Response:
    company = get_container(request).companies.get_company(session.principal, company_id)
    fields = _fields(request, session)
    return _form_page(request, company, fields, current_values(company, fields), {})


@router.post("/{company_id:int}/edit", include_in_schema=False)
def save(request: Request, company_id: int, form: FormData = Depends(checked_form),
         session: UiSession = Depends(current_session)) -> Response:
    service = get_container(request).companies
    company = service.get_company(session.principal, company_id)
    fields = _fields(request, session)
    before = current_values(company, fields)
    values = {**before, **{name: text(form, name) for name in before if name in form}}
    changes = {name: value for name, value in values.items() if value != before[name]}
    errors = _name_error(values["name"])
    if errors:
        return _form_page(request, company, fields, values, errors, 422)
    if not changes:
        return redirect(request, f"/companies/{company_id}", success("Nothing changed."))
    try:
        saved = service.update_company(session.principal, company_id, update_from(changes))
    except ValidationError as invalid:
        return _form_page(request, company, fields, values, errors_from_validation(invalid), 422)
    except CadenzaError as failure:
        if failure.status in (403, 404):
            raise
        return _form_page(request, company, fields, values, _failure_errors(failure), failure.status)
    return redirect(request, f"/companies/{company_id}", success(f"The company {saved.name} is saved."))


@router.post("/{company_id:int}/delete", include_in_schema=False)
def delete_company(request: Request, company_id: int, form: FormData = Depends(checked_form),
                   session: UiSession = Depends(current_session)) -> Response:
    service = get_container(request).companies
    company = service.get_company(session.principal, company_id)
    service.delete_company(session.principal, company_id)
    return redirect(request, "/companies", success(f"The company {company.name} is deleted. Its contacts stay, "
                                                   "without a company."))
