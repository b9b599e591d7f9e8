"""Contacts: the searchable list, the profile with its timeline, tags, and deletion."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from cadenza.api.deps import get_container
from cadenza.api.downloads import csv_download
from cadenza.contacts.schemas import CompanyOut, ContactFilters
from cadenza.core.errors import CadenzaError
from cadenza.web.forms import optional_date, optional_int, text
from cadenza.web.paging import pager
from cadenza.web.presenting import attribute_rows
from cadenza.web.session import UiSession, current_session, writer_session
from cadenza.web.templating import error, redirect, render, success
from cadenza.web.ui_route import UiRoute, checked_form

router = APIRouter(route_class=UiRoute, prefix="/contacts")

PAGE_SIZE = 25
TIMELINE_SIZE = 20
COMPANY_CHOICES = 200


def company_choices(request: Request, session: UiSession, selected: int | None) -> list[CompanyOut]:
    """Companies for a select box, by name; the selected one is always among them."""
    container = get_container(request)
    companies = container.companies.list_companies(session.principal, limit=COMPANY_CHOICES).items
    if selected is not None and all(c.id != selected for c in companies):
        companies.append(container.companies.get_company(session.principal, selected))
    return sorted(companies, key=lambda c: c.name.lower())


def _filters(q: str | None, tag: str | None, company: str | None, created_after: str | None) -> ContactFilters:
    return ContactFilters(q=(q or "").strip()[:200] or None, tag=(tag or "").strip()[:200] or None,
                          company_id=optional_int(company), created_after=optional_date(created_after))


@router.get("", include_in_schema=False)
def list_contacts(request: Request, q: str | None = None, tag: str | None = None, company: str | None = None,
                  created_after: str | None = None, cursor: str | None = None,
                  session: UiSession = Depends(current_session)) -> Response:
    filters = _filters(q, tag, company, created_after)
    page = get_container(request).contacts.list_contacts(session.principal, filters, limit=PAGE_SIZE, cursor=cursor)
    after = filters.created_after
    filtered = any([filters.q, filters.tag, filters.company_id, after])
    values = {"q": filters.q or "", "tag": filters.tag or "", "company": filters.company_id,
              "created_after": after.date().isoformat() if after else ""}
    return render(request, "contacts/list.html", section="contacts", contacts=page.items,
                  pages=pager(request, page.next_cursor), filtered=filtered,
                  values=values, export_query=urlencode({k: v for k, v in values.items() if v}),
                  companies=company_choices(request, session, filters.company_id))


@router.get("/export.csv", include_in_schema=False)
def export_contacts(request: Request, q: str | None = None, tag: str | None = None, company: str | None = None,
                    created_after: str | None = None, session: UiSession = Depends(current_session)) -> Response:
    """The contacts the list shows (its filters, every page) as a CSV download."""
    lines = get_container(request).contacts.export_csv(session.principal, _filters(q, tag, company, created_after))
    return csv_download(lines, "contacts.csv")


@router.get("/{contact_id:int}", include_in_schema=False)
def contact_profile(request: Request, contact_id: int, events: str | None = None,
                    session: UiSession = Depends(current_session)) -> Response:
    container = get_container(request)
    contact = container.contacts.get_contact(session.principal, contact_id)
    fields = container.fields.list_fields(session.principal, entity="contact")
    timeline = container.events.timeline(session.principal, contact_id, limit=TIMELINE_SIZE, cursor=events)
    defined, others = attribute_rows(contact.attributes, fields)
    return render(request, "contacts/profile.html", section="contacts", contact=contact, fields=defined,
                  traits=others, events=timeline.items,
                  event_pages=pager(request, timeline.next_cursor, cursor_param="events"))


@router.post("/{contact_id:int}/tags", include_in_schema=False)
def add_tags(request: Request, contact_id: int, form: FormData = Depends(checked_form),
             session: UiSession = Depends(current_session)) -> Response:
    tags = [tag.strip() for tag in text(form, "tags").split(",") if tag.strip()]
    back = f"/contacts/{contact_id}"
    if not tags:
        return redirect(request, back, error("Type a tag to add."))
    try:
        get_container(request).contacts.add_tags(session.principal, contact_id, tags)
    except CadenzaError as failure:
        if failure.status in (403, 404):
            raise
        return redirect(request, back, error(failure.detail))
    return redirect(request, back, success(f"Tagged {', '.join(tags)}."))


@router.post("/{contact_id:int}/tags/remove", include_in_schema=False)
def remove_tag(request: Request, contact_id: int, form: FormData = Depends(checked_form),
               session: UiSession = Depends(current_session)) -> Response:
    tag = text(form, "tag")
    get_container(request).contacts.remove_tag(session.principal, contact_id, tag)
    return redirect(request, f"/contacts/{contact_id}", success(f"Removed the tag {tag}."))


@router.get("/{contact_id:int}/delete", include_in_schema=False)
def confirm_delete(request: Request, contact_id: int, session: UiSession = Depends(writer_session)) -> Response:
    contact = get_container(request).contacts.get_contact(session.principal, contact_id)
    return render(request, "contacts/delete.html", section="contacts", contact=contact)


@router.post("/{contact_id:int}/delete", include_in_schema=False)
def delete_contact(request: Request, contact_id: int, form: FormData = Depends(checked_form),
                   session: UiSession = Depends(current_session)) -> Response:
    get_container(request).contacts.delete_contact(session.principal, contact_id)
    return redirect(request, "/contacts", success("The contact is deleted. Their events stay, without a name."))
