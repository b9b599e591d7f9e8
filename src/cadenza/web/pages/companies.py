"""Companies: the list with search, and each company with its contacts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cadenza.api.deps import get_container
from cadenza.web.paging import pager
from cadenza.web.presenting import show_value
from cadenza.web.session import UiSession, current_session
from cadenza.web.templating import render
from cadenza.web.ui_route import UiRoute

router = APIRouter(route_class=UiRoute, prefix="/companies")

PAGE_SIZE = 25


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
