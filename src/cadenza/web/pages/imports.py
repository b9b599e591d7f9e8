"""Imports: upload a CSV, check the detected format and column mapping, start, then follow it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from cadenza.api.deps import get_container
from cadenza.api.downloads import csv_download
from cadenza.core.errors import CadenzaError
from cadenza.web.forms import text
from cadenza.web.paging import pager
from cadenza.web.session import UiSession, current_session, writer_session
from cadenza.web.templating import error, redirect, render, success
from cadenza.web.ui_route import UiRoute, checked_form
from cadenza.web.uploads import PendingUploads

router = APIRouter(route_class=UiRoute, prefix="/imports")

PAGE_SIZE = 25
ERRORS_PAGE_SIZE = 50
RUNNING = ("pending", "running")
TARGET_LABELS = {
    "email": "Email", "first_name": "First name", "last_name": "Last name", "phone": "Phone",
    "company": "Company (by name)", "external_id": "User id", "tags": "Tags", "timezone": "Time zone",
    "ignore": "Don't import",
}
DELIMITER_NAMES = {",": "Comma", ";": "Semicolon", "\t": "Tab", "|": "Pipe"}


def pending_uploads(request: Request) -> PendingUploads:
    return PendingUploads(get_container(request).settings.data_dir / "uploads")


def _target_labels(request: Request, session: UiSession, targets: list[str]) -> dict[str, str]:
    fields = {f.key: f.label for f in get_container(request).fields.list_fields(session.principal, entity="contact")}
    labels = {}
    for target in targets:
        if target.startswith("field:"):
            key = target.removeprefix("field:")
            labels[target] = f"Custom field: {fields.get(key, key)}"
        else:
            labels[target] = TARGET_LABELS.get(target, target)
    return labels


@router.get("", include_in_schema=False)
def list_imports(request: Request, cursor: str | None = None,
                 session: UiSession = Depends(current_session)) -> Response:
    page = get_container(request).imports.list_imports(session.principal, limit=PAGE_SIZE, cursor=cursor)
    return render(request, "imports/list.html", section="imports", imports=page.items,
                  pages=pager(request, page.next_cursor))


@router.get("/new", include_in_schema=False)
def upload_form(request: Request, session: UiSession = Depends(writer_session)) -> Response:
    return render(request, "imports/new.html", section="imports", error_message=None)


@router.post("/new", include_in_schema=False)
def upload(request: Request, form: FormData = Depends(checked_form),
           session: UiSession = Depends(writer_session)) -> Response:
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return render(request, "imports/new.html", status=422, section="imports",
                      error_message="Choose a CSV file to upload.")
    token = pending_uploads(request).save(session.principal.workspace_id, file.file, file.filename)
    return redirect(request, f"/imports/new/{token}")


def _preview_page(request: Request, session: UiSession, token: str, *, chosen: dict[str, str] | None = None,
                  options: dict[str, Any] | None = None, error_message: str | None = None,
                  status: int = 200) -> Response:
    uploads = pending_uploads(request)
    stream, filename = uploads.open(session.principal.workspace_id, token)
    with stream:
        preview = get_container(request).imports.preview(session.principal, stream, filename)
    mapping = {**preview.mapping, **(chosen or {})}
    return render(request, "imports/preview.html", status=status, section="imports", token=token, preview=preview,
                  mapping=mapping, labels=_target_labels(request, session, preview.targets),
                  delimiter_name=DELIMITER_NAMES.get(preview.delimiter, repr(preview.delimiter)),
                  size=uploads.size(session.principal.workspace_id, token),
                  options=options or {"update_existing": True}, error_message=error_message)


@router.get("/new/{token}", include_in_schema=False)
def preview(request: Request, token: str, session: UiSession = Depends(current_session)) -> Response:
    try:
        return _preview_page(request, session, token)
    except CadenzaError as failure:
        if failure.status in (403, 404):
            raise
        return render(request, "imports/new.html", status=failure.status, section="imports",
                      error_message=f"This file can't be read as CSV: {failure.detail}")


def mapping_from(form: FormData) -> dict[str, str]:
    """`header-N` / `map-N` pairs: the column's header and the target chosen for it."""
    mapping = {}
    for key in form:
        if key.startswith("header-"):
            index = key.removeprefix("header-")
            header = form.get(key)
            target = form.get(f"map-{index}")
            if isinstance(header, str) and isinstance(target, str):
                mapping[header] = target
    return mapping


@router.post("/new/{token}", include_in_schema=False)
def start(request: Request, token: str, form: FormData = Depends(checked_form),
          session: UiSession = Depends(current_session)) -> Response:
    uploads = pending_uploads(request)
    mapping = mapping_from(form)
    update_existing = text(form, "update_existing") == "yes"
    stream, filename = uploads.open(session.principal.workspace_id, token)
    try:
        with stream:
            contact_import = get_container(request).imports.create_import(
                session.principal, filename, stream, mapping, update_existing=update_existing)
    except CadenzaError as failure:
        if failure.status in (403, 404):
            raise
        return _preview_page(request, session, token, chosen=mapping, options={"update_existing": update_existing},
                             error_message=failure.detail, status=failure.status)
    uploads.discard(session.principal.workspace_id, token)
    return redirect(request, f"/imports/{contact_import.id}", success("Import started."))


@router.get("/{import_id:int}", include_in_schema=False)
def import_detail(request: Request, import_id: int, errors: str | None = None,
                  session: UiSession = Depends(current_session)) -> Response:
    container = get_container(request)
    contact_import = container.imports.get_import(session.principal, import_id)
    row_errors = container.imports.list_import_errors(session.principal, import_id, limit=ERRORS_PAGE_SIZE,
                                                      cursor=errors)
    total = contact_import.bytes_total or 0
    percent = 100 if contact_import.status == "done" else (
        min(100, round(100 * contact_import.bytes_done / total)) if total else 0)
    return render(request, "imports/detail.html", section="imports", job=contact_import, percent=percent,
                  is_running=contact_import.status in RUNNING, row_errors=row_errors.items,
                  error_pages=pager(request, row_errors.next_cursor, cursor_param="errors"))


@router.get("/{import_id:int}/errors.csv", include_in_schema=False)
def errors_csv(request: Request, import_id: int, session: UiSession = Depends(current_session)) -> Response:
    lines = get_container(request).imports.export_errors_csv(session.principal, import_id)
    return csv_download(lines, f"import-{import_id}-errors.csv")


@router.post("/{import_id:int}/cancel", include_in_schema=False)
def cancel(request: Request, import_id: int, form: FormData = Depends(checked_form),
           session: UiSession = Depends(current_session)) -> Response:
    imports = get_container(request).imports
    return _control(request, import_id, lambda: imports.cancel_import(session.principal, import_id),
                    "Import cancelled; what it imported stays.")


@router.post("/{import_id:int}/retry", include_in_schema=False)
def retry(request: Request, import_id: int, form: FormData = Depends(checked_form),
          session: UiSession = Depends(current_session)) -> Response:
    imports = get_container(request).imports
    return _control(request, import_id, lambda: imports.retry_import(session.principal, import_id),
                    "Import queued again; it resumes where it stopped.")


def _control(request: Request, import_id: int, action: Callable[[], object], message: str) -> Response:
    back = f"/imports/{import_id}"
    try:
        action()
    except CadenzaError as failure:
        if failure.status in (403, 404):
            raise
        return redirect(request, back, error(failure.detail))
    return redirect(request, back, success(message))
