"""REST: /api/v1/imports — upload a CSV of contacts, preview it, follow, cancel and retry imports.

Creating needs the write permission; reading imports and their error reports needs read.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from cadenza.api.deps import can_read, can_write, get_container
from cadenza.api.downloads import csv_download
from cadenza.api.problems import problems
from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.contacts.importing import ImportPreview
from cadenza.contacts.models import ContactImport
from cadenza.core.errors import ValidationFailed
from cadenza.core.pagination import MAX_LIMIT

router = APIRouter()

MAX_ID = 2**63 - 1
ImportId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_\-]*$")]
MAPPING_HELP = ('JSON object header → target, e.g. {"E-mail": "email", "Plan": "field:plan", "Notes": "ignore"}. '
                "Targets: email, first_name, last_name, phone, company, external_id, tags, timezone, field:<key>, "
                "attributes.<name>, ignore. Columns left out keep the guessed target.")


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    status: str  # pending|running|done|failed|cancelled|expired (upload deleted: cannot be resumed)
    encoding: str | None
    delimiter: str | None
    mapping: dict[str, str]
    update_existing: bool
    default_region: str | None
    rows_total: int
    rows_created: int
    rows_updated: int
    rows_skipped: int
    rows_failed: int
    bytes_total: int
    bytes_done: int
    error: str | None
    created_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None


class ImportPage(BaseModel):
    data: list[ImportOut]
    next_cursor: str | None = None


class ImportErrorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line: int
    column: str | None
    message: str
    raw: str | None


class ImportErrorPage(BaseModel):
    data: list[ImportErrorOut]
    next_cursor: str | None = None


class PreviewRowOut(BaseModel):
    line: int
    cells: dict[str, str]
    error: str | None


class PreviewOut(BaseModel):
    filename: str
    encoding: str
    delimiter: str
    headers: list[str]
    rows: list[PreviewRowOut]
    mapping: dict[str, str]
    targets: list[str]

    @classmethod
    def of(cls, preview: ImportPreview) -> PreviewOut:
        return cls(filename=preview.filename, encoding=preview.encoding, delimiter=preview.delimiter,
                   headers=preview.headers, mapping=preview.mapping, targets=preview.targets,
                   rows=[PreviewRowOut(line=r.line, cells=r.cells, error=r.error) for r in preview.rows])


def _mapping(raw: str | None) -> dict[str, str] | None:
    if raw is None or not raw.strip():
        return None
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationFailed("mapping must be a JSON object of column header → target.",
                               errors=[{"field": "mapping", "message": "is not a JSON object of strings"}])
    return value


def _out(contact_import: ContactImport) -> ImportOut:
    return ImportOut.model_validate(contact_import)


@router.post("/imports", status_code=202, response_model=ImportOut, responses=problems(400),
             summary="Upload a CSV of contacts and queue its import",
             description="Multipart form: `file` (the CSV), optional `mapping` (" + MAPPING_HELP + "), "
                         "`update_existing` (default true: rows matching a contact by email, else external id, "
                         "update it) and `default_region` (e.g. GB, for phone numbers without a country code). "
                         "The import runs in the background; follow it with GET /imports/{id}.")
def create_import(
    file: UploadFile = File(..., description="The CSV file (UTF-8, UTF-8 with BOM, or Latin-1/Windows-1252)"),
    mapping: str | None = Form(None, description=MAPPING_HELP),
    update_existing: bool = Form(True),
    default_region: str | None = Form(None, max_length=2),
    principal: Principal = Depends(can_write),
    container: Container = Depends(get_container),
) -> ImportOut:
    contact_import = container.imports.create_import(principal, file.filename or "upload.csv", file.file,
                                                     _mapping(mapping), update_existing,
                                                     default_region=default_region)
    return _out(contact_import)


@router.post("/imports/preview", response_model=PreviewOut, responses=problems(400),
             summary="Detect a CSV's encoding, delimiter and headers, and guess its column mapping",
             description="Stores nothing. Returns the first 5 rows and the guessed mapping header → target.")
def preview_import(
    file: UploadFile = File(...),
    principal: Principal = Depends(can_write),
    container: Container = Depends(get_container),
) -> PreviewOut:
    return PreviewOut.of(container.imports.preview(principal, file.file, file.filename or "upload.csv"))


@router.get("/imports", response_model=ImportPage, responses=problems(), summary="List imports, newest first")
def list_imports(limit: Limit = None, cursor: Cursor = None, principal: Principal = Depends(can_read),
                 container: Container = Depends(get_container)) -> ImportPage:
    page = container.imports.list_imports(principal, limit=limit, cursor=cursor)
    return ImportPage(data=[_out(item) for item in page.items], next_cursor=page.next_cursor)


@router.get("/imports/{import_id}", response_model=ImportOut, responses=problems(404),
            summary="An import's status, progress and counts")
def get_import(import_id: ImportId, principal: Principal = Depends(can_read),
               container: Container = Depends(get_container)) -> ImportOut:
    return _out(container.imports.get_import(principal, import_id))


@router.get("/imports/{import_id}/errors", response_model=ImportErrorPage, responses=problems(404),
            summary="An import's row errors, in file order (line number, column, message, the row's text)")
def list_import_errors(import_id: ImportId, limit: Limit = None, cursor: Cursor = None,
                       principal: Principal = Depends(can_read),
                       container: Container = Depends(get_container)) -> ImportErrorPage:
    page = container.imports.list_import_errors(principal, import_id, limit=limit, cursor=cursor)
    return ImportErrorPage(data=[ImportErrorOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor)


@router.get("/imports/{import_id}/errors.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "line,column,message,row"},
                       **problems(404)},
            summary="An import's row errors as CSV (cells that look like formulas are escaped)")
def export_import_errors(import_id: ImportId, principal: Principal = Depends(can_read),
                         container: Container = Depends(get_container)) -> StreamingResponse:
    lines = container.imports.export_errors_csv(principal, import_id)
    return csv_download(lines, f"import-{import_id}-errors.csv")


@router.post("/imports/{import_id}/cancel", response_model=ImportOut, responses=problems(404, 409),
             summary="Cancel an import; what it already imported stays")
def cancel_import(import_id: ImportId, principal: Principal = Depends(can_write),
                  container: Container = Depends(get_container)) -> ImportOut:
    return _out(container.imports.cancel_import(principal, import_id))


@router.post("/imports/{import_id}/retry", response_model=ImportOut, responses=problems(404, 409),
             summary="Queue a failed or cancelled import again; it resumes after its last committed chunk")
def retry_import(import_id: ImportId, principal: Principal = Depends(can_write),
                 container: Container = Depends(get_container)) -> ImportOut:
    return _out(container.imports.retry_import(principal, import_id))
