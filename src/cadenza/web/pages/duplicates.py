"""Duplicates: likely pairs side by side, merged one way or the other, or dismissed; scans run in the
background, and the page follows the latest one (status, progress, pairs found, error)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from cadenza.api.deps import get_container
from cadenza.core.errors import CadenzaError
from cadenza.web.forms import optional_int, text
from cadenza.web.paging import pager
from cadenza.web.session import UiSession, current_session
from cadenza.web.templating import error, redirect, render, success
from cadenza.web.ui_route import UiRoute, checked_form

router = APIRouter(route_class=UiRoute, prefix="/contacts/duplicates")

PAGE_SIZE = 20
REASONS = {"email": "Same email address", "phone": "Same phone number", "name_company": "Similar name, same company",
           "identity_conflict": "Both claimed one identity"}


@router.get("", include_in_schema=False)
def list_candidates(request: Request, cursor: str | None = None,
                    session: UiSession = Depends(current_session)) -> Response:
    container = get_container(request)
    page = container.duplicates.list_candidates(session.principal, status="open", limit=PAGE_SIZE, cursor=cursor)
    company_ids = {brief.company_id for pair in page.items for brief in (pair.contact, pair.other_contact)
                   if brief is not None and brief.company_id is not None}
    companies = {cid: container.companies.get_company(session.principal, cid).name for cid in sorted(company_ids)}
    scan = container.duplicate_scans.latest_scan(session.principal)
    return render(request, "contacts/duplicates.html", section="duplicates", pairs=page.items, companies=companies,
                  reasons=REASONS, pages=pager(request, page.next_cursor), scan=scan)


def _back(request: Request, action: Callable[[], object], done: str) -> Response:
    """Does `action`, then back to the duplicates page saying what happened, or why it could not (a refusal
    for the user's role stays a 403 page)."""
    try:
        action()
    except CadenzaError as failure:
        if failure.status == 403:
            raise
        return redirect(request, "/contacts/duplicates", error(failure.detail))
    return redirect(request, "/contacts/duplicates", success(done))


@router.post("/scan", include_in_schema=False)
def scan(request: Request, form: FormData = Depends(checked_form),
         session: UiSession = Depends(current_session)) -> Response:
    _scan, started = get_container(request).duplicate_scans.start_scan(session.principal)
    message = ("Scan started. New likely duplicates appear here when it ends." if started
               else "A scan is already running; this page follows it.")
    return redirect(request, "/contacts/duplicates", success(message))


@router.post("/scans/{scan_id:int}/cancel", include_in_schema=False)
def cancel_scan(request: Request, scan_id: int, form: FormData = Depends(checked_form),
                session: UiSession = Depends(current_session)) -> Response:
    scans = get_container(request).duplicate_scans
    return _back(request, lambda: scans.cancel_scan(session.principal, scan_id),
                 "Scan cancelled. Pairs it already found stay.")


@router.post("/merge", include_in_schema=False)
def merge(request: Request, form: FormData = Depends(checked_form),
          session: UiSession = Depends(current_session)) -> Response:
    survivor_id, merged_id = optional_int(text(form, "survivor_id")), optional_int(text(form, "merged_id"))
    if survivor_id is None or merged_id is None:
        return redirect(request, "/contacts/duplicates", error("Choose which contact to keep."))
    duplicates = get_container(request).duplicates
    return _back(request, lambda: duplicates.merge_contacts(session.principal, survivor_id, merged_id),
                 f"Merged. Contact #{merged_id} is now part of contact #{survivor_id}.")


@router.post("/{candidate_id:int}/dismiss", include_in_schema=False)
def dismiss(request: Request, candidate_id: int, form: FormData = Depends(checked_form),
            session: UiSession = Depends(current_session)) -> Response:
    duplicates = get_container(request).duplicates
    return _back(request, lambda: duplicates.dismiss_candidate(session.principal, candidate_id),
                 "Dismissed: they stay two contacts.")
