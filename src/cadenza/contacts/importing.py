"""CSV import of contacts: upload, preview, mapping, streaming in chunks, resume, cancel, retry, error report.

An import is stored as a file plus a `ContactImport` row, and runs as the job `contacts.import` (or
in-process from the CLI). It reads the file in chunks of `chunk_size` rows; each chunk is one transaction
holding the contacts it creates and updates, their tags and companies, its rows' errors, one 'contact
changed' fact per changed contact, and the import's progress (byte offset and line just after the chunk).
An import that stops half-way (a killed worker, a database error) therefore resumes after its last
committed chunk and does nothing twice. Each chunk's transaction first moves the progress forward on the
condition that it is still where this run found it, so two runs of one import can never both apply a chunk.

Counts: every data row is counted once as created, updated (it changed a contact), skipped (it matched a
contact and changed nothing, or `update_existing` is off) or failed (see the error report).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import phonenumbers
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cadenza.auth import Permission, Principal, record_audit
from cadenza.config import Settings
from cadenza.contacts.csv_source import CsvFormat, CsvSource, detect_format
from cadenza.contacts.errors import require
from cadenza.contacts.import_rows import RowValues
from cadenza.contacts.import_validation import CheckedChunk, ReaderSpec, available_workers, checked_chunks
from cadenza.contacts.import_writer import (
    ChunkClaims,
    ChunkPlan,
    plan_chunk,
    plan_staged_chunk,
    staged_rows,
    write_chunk,
)
from cadenza.contacts.mapping import (
    FIELD_PREFIX,
    STANDARD_TARGETS,
    FieldChoice,
    guess_mapping,
    resolve_mapping,
    target_problem,
)
from cadenza.contacts.models import ContactImport, CustomField, ImportRowError
from cadenza.core.clock import Clock
from cadenza.core.errors import Conflict, NotFound, ValidationFailed
from cadenza.core.heap import long_lived_objects_frozen
from cadenza.core.pagination import Page, clamp_limit, id_from_cursor, next_id_cursor
from cadenza.core.text import escape_csv_cell
from cadenza.storage import Database
from cadenza.storage.bulk import plan_each_statement
from cadenza.storage.database import OpenTransaction
from cadenza.storage.queue import ClaimedJob, JobQueue, enqueue
from cadenza.storage.registry import JobRegistry, PermanentJobError

JOB_KIND = "contacts.import"
CLEANUP_JOB_KIND = "contacts.import_upload_cleanup"
CLEANUP_EVERY = dt.timedelta(hours=6)
# Imports whose upload is kept to resume them: failed, cancelled, or stopped without a word (a killed process).
RESUMABLE = ("failed", "cancelled", "pending", "running")
PREVIEW_ROWS = 5
PREVIEW_BYTES = 1024 * 1024
ProgressCallback = Callable[[ContactImport], None]


@dataclass(frozen=True)
class PreviewRow:
    line: int
    cells: dict[str, str]
    error: str | None


@dataclass(frozen=True)
class ImportPreview:
    filename: str
    encoding: str
    delimiter: str
    headers: list[str]
    rows: list[PreviewRow]
    mapping: dict[str, str]  # the guess, header → target
    targets: list[str]  # every target a column can take here


class ImportNotFound(NotFound):
    title = "Import not found"
    type_slug = "import-not-found"


class _Stopped(Exception):
    """The import was cancelled, or another run moved it forward: this run stops."""


@dataclass(frozen=True)
class _Planned:
    """A chunk planned in its open unit of work, to be written and committed (or rolled back)."""

    transaction: OpenTransaction
    plan: ChunkPlan


@dataclass(frozen=True)
class _Writing:
    """The chunk being written on the import's writer thread, and what it claims (`ChunkClaims`)."""

    future: Future[ContactImport]
    claims: ChunkClaims | None  # None: the next chunk waits whatever it names (SQLite)

    def finished(self, progress: ProgressCallback | None) -> ContactImport:
        """Waits until the chunk is committed (or raises why it is not), then reports the progress."""
        contact_import = self.future.result()
        if progress is not None:
            progress(contact_import)
        return contact_import


def _valid_rows(chunk: CheckedChunk) -> tuple[list[RowValues], list[str]]:
    """A checked chunk's valid rows, ready to write, with their text (for the error report)."""
    staged = staged_rows(chunk.stage)
    return [row for _, row in staged], [chunk.raws[seq] for seq, _ in staged]


class ImportService:
    chunk_size = 20_000
    # Files with less than this left to read are validated in this process (starting workers costs ~1 s).
    pool_min_bytes = 4 * 1024 * 1024

    def __init__(self, db: Database, clock: Clock, settings: Settings, queue: JobQueue) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.queue = queue

    def register_jobs(self, registry: JobRegistry) -> None:
        """Registers the job that runs an import uploaded through the UI or API, and the recurring one that
        deletes the uploads of imports that failed or were abandoned long ago."""
        registry.register(JOB_KIND, self._run_job)
        registry.register(CLEANUP_JOB_KIND, self._run_cleanup_job)
        registry.every(CLEANUP_JOB_KIND, CLEANUP_EVERY)

    # ---- before an import --------------------------------------------------------------------

    def preview(self, principal: Principal, source: BinaryIO, filename: str, *,
                keep_unmapped: bool = False) -> ImportPreview:
        """Encoding, delimiter, headers, the first rows and the guessed mapping. Stores nothing."""
        require(principal, Permission.WRITE)
        if not source.seekable():
            source = io.BytesIO(source.read(PREVIEW_BYTES))
        fmt = detect_format(source)
        reader = CsvSource(source, fmt)
        rows = []
        for line, cells, error in reader.records():
            rows.append(PreviewRow(line, cells, error))
            if len(rows) == PREVIEW_ROWS:
                break
        fields = self._fields(principal.workspace_id)
        return ImportPreview(
            filename=_clean_filename(filename), encoding=fmt.encoding, delimiter=fmt.delimiter,
            headers=reader.headers, rows=rows,
            mapping=guess_mapping(reader.headers, fields, keep_unmapped=keep_unmapped),
            targets=[*STANDARD_TARGETS, *(FIELD_PREFIX + f.key for f in fields), "ignore"],
        )

    def create_import(self, principal: Principal, filename: str, source: BinaryIO,
                      mapping: dict[str, str] | None = None, update_existing: bool = True, *,
                      default_region: str | None = None, keep_unmapped: bool = False,
                      run_in_background: bool = True) -> ContactImport:
        """Stores the upload (a streamed copy), checks its mapping, and queues the import.

        `mapping` overrides the guess column by column (header → target); `default_region` (e.g. "GB")
        reads phone numbers written without a country code. With `run_in_background=False` no job is
        queued: the caller runs `run_import` itself (the CLI does)."""
        require(principal, Permission.WRITE)
        region = _region(default_region)
        directory = self.settings.data_dir / "imports"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{principal.workspace_id}-{uuid.uuid4().hex}.csv"
        try:
            with path.open("wb") as stored:
                shutil.copyfileobj(source, stored, 1024 * 1024)
                size = stored.tell()
            with path.open("rb") as stored:
                fmt = detect_format(stored)
                headers = CsvSource(stored, fmt).headers
            resolved = resolve_mapping(headers, self._fields(principal.workspace_id), mapping,
                                       keep_unmapped=keep_unmapped)
            now = self.clock.now()
            with self.db.transaction() as session:
                contact_import = ContactImport(
                    workspace_id=principal.workspace_id, filename=_clean_filename(filename), stored_path=str(path),
                    encoding=fmt.encoding, delimiter=fmt.delimiter, mapping=resolved,
                    update_existing=update_existing, default_region=region, status="pending", rows_total=0,
                    rows_created=0, rows_updated=0, rows_failed=0, rows_skipped=0, bytes_total=size,
                    bytes_done=0, lines_done=0, created_by=principal.label, created_at=now, updated_at=now,
                )
                session.add(contact_import)
                session.flush()
                record_audit(session, principal, "contact_import.created", at=now, target_type="contact_import",
                             target_id=contact_import.id,
                             changes={"filename": contact_import.filename, "bytes": size, "mapping": resolved,
                                      "update_existing": update_existing})
                if run_in_background:
                    self._enqueue(session, contact_import)
                return contact_import
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    # ---- running ---------------------------------------------------------------------------------

    def run_import(self, import_id: int, *, progress: ProgressCallback | None = None) -> ContactImport:
        """Runs (or resumes) an import to its end, one committed chunk at a time."""
        contact_import = self._start(import_id)
        if contact_import.status != "running":
            return contact_import
        try:
            self._run_chunks(contact_import, progress)
        except _Stopped:
            return self._load(import_id)
        except BaseException as error:  # Ctrl-C too: the import shows as failed, and can be resumed
            self._mark_failed(import_id, f"{type(error).__name__}: {error}")
            raise
        return self._finish(import_id)

    def _run_chunks(self, contact_import: ContactImport, progress: ProgressCallback | None) -> None:
        fields = {f.key: f for f in self._fields(contact_import.workspace_id)}
        missing = [target for target in contact_import.mapping.values() if target_problem(target, set(fields))]
        if missing:
            raise ValidationFailed(f"The mapping uses custom fields that no longer exist: {', '.join(missing)}.")
        required = _required_fields(contact_import.mapping, fields)
        path = Path(contact_import.stored_path or "")
        large = contact_import.bytes_total - contact_import.bytes_done >= self.pool_min_bytes
        with path.open("rb") as stream, long_lived_objects_frozen(enabled=large):
            source = CsvSource(stream, CsvFormat(contact_import.encoding or "utf-8", contact_import.delimiter or ","))
            spec = ReaderSpec(source.headers, contact_import.mapping, fields, contact_import.default_region)
            offset = contact_import.bytes_done
            checked = checked_chunks(source, contact_import.bytes_done or None, contact_import.lines_done, spec,
                                     self._workers(contact_import), self.chunk_size)
            writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cadenza-import-writer")
            writing: _Writing | None = None
            try:
                for chunk in checked:
                    # SQLite has one writer: there the next chunk is planned once this one has committed.
                    valid = _valid_rows(chunk) if self.db.is_postgres else None
                    if writing is not None and (valid is None or writing.claims is None
                                                or writing.claims.named_by(valid[0])):
                        contact_import, writing = writing.finished(progress), None
                    planned = self._plan(contact_import, chunk, valid, required)
                    if writing is not None:
                        with planned.transaction.kept_open():
                            contact_import, writing = writing.finished(progress), None
                    future = writer.submit(self._write, contact_import, offset, chunk, planned)
                    claims = ChunkClaims.of(planned.plan) if self.db.is_postgres else None
                    writing, offset = _Writing(future, claims), chunk.end_offset
                if writing is not None:
                    writing.finished(progress)
            finally:
                writer.shutdown()  # when this thread failed, a chunk still being written ends as it will first
                checked.close()  # stops the worker processes, also when a chunk failed

    def _workers(self, contact_import: ContactImport) -> int:
        """How many processes validate rows: none for a small remainder, else the setting or one per spare core."""
        if contact_import.bytes_total - contact_import.bytes_done < self.pool_min_bytes:
            return 0
        configured = self.settings.import_workers
        return available_workers() if configured is None else configured

    def _plan(self, contact_import: ContactImport, chunk: CheckedChunk,
              valid: tuple[list[RowValues], list[str]] | None, required: dict[str, str | None]) -> _Planned:
        """Opens the chunk's unit of work and plans it there (the contacts it matches stay locked): from its
        valid rows as Python values when given (PostgreSQL), else from its stage (SQLite: `plan_staged_chunk`)."""
        transaction = self.db.open_transaction()
        with transaction.kept_open() as session:
            plan_each_statement(session)
            workspace_id, update_existing = contact_import.workspace_id, contact_import.update_existing
            if valid is None:
                plan = plan_staged_chunk(session, workspace_id, chunk.stage, chunk.raws, chunk.problems,
                                         update_existing=update_existing, required=required)
            else:
                plan = plan_chunk(session, workspace_id, *valid, chunk.problems, update_existing=update_existing,
                                  required=required)
        return _Planned(transaction, plan)

    def _write(self, contact_import: ContactImport, offset: int, chunk: CheckedChunk,
               planned: _Planned) -> ContactImport:
        """Writes a planned chunk and its progress, and commits: on the import's writer thread."""
        plan = planned.plan
        workspace_id, import_id = contact_import.workspace_id, contact_import.id
        now = self.clock.now()
        with planned.transaction.completed() as session:
            # First write of the chunk: move the progress on, only from where this run found it. On PostgreSQL
            # this locks the import row, so a second run of the same import waits here and then stops.
            moved = session.execute(
                update(ContactImport)
                .where(ContactImport.id == import_id, ContactImport.status == "running",
                       ContactImport.bytes_done == offset)
                .values(bytes_done=chunk.end_offset, lines_done=chunk.end_line,
                        rows_total=ContactImport.rows_total + len(chunk.lines),
                        rows_created=ContactImport.rows_created + plan.created,
                        rows_updated=ContactImport.rows_updated + plan.updated,
                        rows_skipped=ContactImport.rows_skipped + plan.skipped,
                        rows_failed=ContactImport.rows_failed + plan.failed_rows,
                        updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise _Stopped()  # cancelled, or another run got here first: roll back and stop
            write_chunk(session, plan, workspace_id=workspace_id, import_id=import_id, now=now)
            return _reload(session, import_id)

    def _start(self, import_id: int) -> ContactImport:
        with self.db.transaction() as session:
            contact_import = session.get(ContactImport, import_id)
            if contact_import is None:
                raise ImportNotFound(f"No import {import_id}.")
            if contact_import.status in ("pending", "running", "failed"):
                contact_import.status = "running"
                contact_import.error = None
                contact_import.updated_at = self.clock.now()
            return contact_import

    def _finish(self, import_id: int) -> ContactImport:
        now = self.clock.now()
        with self.db.transaction() as session:
            done = session.execute(
                update(ContactImport).where(ContactImport.id == import_id, ContactImport.status == "running")
                .values(status="done", finished_at=now, updated_at=now).execution_options(synchronize_session=False))
            contact_import = _reload(session, import_id)
            if done.rowcount == 1:  # type: ignore[attr-defined]
                record_audit(session, Principal.system(contact_import.workspace_id, "import"),
                             "contact_import.finished", at=now, target_type="contact_import", target_id=import_id,
                             changes=_counts(contact_import))
        if contact_import.status == "done":  # its copy of the upload is needed no more (a failed one is kept)
            self._delete_upload(contact_import.stored_path)
        return contact_import

    def _delete_upload(self, stored_path: str | None) -> None:
        """Deletes an import's copy of its upload (only ever a file in the imports directory)."""
        if not stored_path:
            return
        path = Path(stored_path)
        if path.parent.resolve() == (self.settings.data_dir / "imports").resolve():
            path.unlink(missing_ok=True)

    def _mark_failed(self, import_id: int, error: str) -> None:
        with self.db.transaction() as session:
            session.execute(update(ContactImport).where(ContactImport.id == import_id,
                                                        ContactImport.status == "running")
                            .values(status="failed", error=error[:4000], updated_at=self.clock.now()))

    def _run_cleanup_job(self, _job: ClaimedJob) -> None:
        self.delete_stale_uploads()

    def _run_job(self, job: ClaimedJob) -> None:
        import_id = int(job.payload["import_id"])
        try:
            self.run_import(import_id)
        except (ValidationFailed, ImportNotFound, FileNotFoundError) as error:
            raise PermanentJobError(str(error)) from error

    # ---- reading and controlling --------------------------------------------------------------

    def get_import(self, principal: Principal, import_id: int) -> ContactImport:
        require(principal, Permission.READ)
        with self.db.read() as session:
            return _owned(session, principal, import_id)

    def list_imports(self, principal: Principal, limit: int | None = None,
                     cursor: str | None = None) -> Page[ContactImport]:
        """The workspace's imports, newest first."""
        require(principal, Permission.READ)
        limit = clamp_limit(limit)
        query = select(ContactImport).where(ContactImport.workspace_id == principal.workspace_id)
        if cursor:
            query = query.where(ContactImport.id < id_from_cursor(cursor))
        with self.db.read() as session:
            rows = list(session.scalars(query.order_by(ContactImport.id.desc()).limit(limit + 1)))
        return Page(rows[:limit], next_id_cursor(rows, limit))

    def list_import_errors(self, principal: Principal, import_id: int, limit: int | None = None,
                           cursor: str | None = None) -> Page[ImportRowError]:
        """The import's row errors in file order."""
        require(principal, Permission.READ)
        limit = clamp_limit(limit)
        with self.db.read() as session:
            _owned(session, principal, import_id)
            query = select(ImportRowError).where(ImportRowError.workspace_id == principal.workspace_id,
                                                 ImportRowError.import_id == import_id)
            if cursor:
                query = query.where(ImportRowError.id > id_from_cursor(cursor))
            rows = list(session.scalars(query.order_by(ImportRowError.id).limit(limit + 1)))
        return Page(rows[:limit], next_id_cursor(rows, limit))

    def export_errors_csv(self, principal: Principal, import_id: int) -> Iterator[str]:
        """The error report as CSV text, streamed page by page. Cells that a spreadsheet would run as a
        formula (starting with = + - @, tab or CR) are escaped."""
        require(principal, Permission.READ)
        with self.db.read() as session:
            _owned(session, principal, import_id)
        return self._error_lines(principal.workspace_id, import_id)

    def _error_lines(self, workspace_id: int, import_id: int, page: int = 1_000) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["line", "column", "message", "row"])
        last_id = 0
        while True:
            with self.db.read() as session:
                errors = session.execute(
                    select(ImportRowError.id, ImportRowError.line, ImportRowError.column, ImportRowError.message,
                           ImportRowError.raw)
                    .where(ImportRowError.workspace_id == workspace_id, ImportRowError.import_id == import_id,
                           ImportRowError.id > last_id)
                    .order_by(ImportRowError.id).limit(page)).all()
            for error_id, line, column, message, raw in errors:
                writer.writerow([line, *(escape_csv_cell(cell or "") for cell in (column, message, raw))])
                last_id = error_id
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(errors) < page:
                return

    def cancel_import(self, principal: Principal, import_id: int) -> ContactImport:
        """Stops an import after its current chunk; what was committed stays."""
        require(principal, Permission.WRITE)
        now = self.clock.now()
        with self.db.transaction() as session:
            contact_import = _owned(session, principal, import_id)
            if contact_import.status in ("done", "cancelled"):
                raise Conflict(f"Import {import_id} is already {contact_import.status}.")
            contact_import.status = "cancelled"
            contact_import.finished_at = now
            contact_import.updated_at = now
            record_audit(session, principal, "contact_import.cancelled", at=now, target_type="contact_import",
                         target_id=import_id, changes=_counts(contact_import))
            return contact_import

    def retry_import(self, principal: Principal, import_id: int) -> ContactImport:
        """Queues a failed or cancelled import again; it resumes after its last committed chunk."""
        require(principal, Permission.WRITE)
        now = self.clock.now()
        with self.db.transaction() as session:
            contact_import = _owned(session, principal, import_id)
            if contact_import.status == "expired":
                raise Conflict(f"Import {import_id} can no longer be resumed: its upload was deleted. Import the "
                               f"file again (rows already imported are matched, not duplicated).")
            if contact_import.status not in ("failed", "cancelled"):
                raise Conflict(f"Import {import_id} is {contact_import.status}; only a failed or cancelled "
                               f"import can be retried.")
            contact_import.status = "pending"
            contact_import.error = None
            contact_import.finished_at = None
            contact_import.updated_at = now
            record_audit(session, principal, "contact_import.retried", at=now, target_type="contact_import",
                         target_id=import_id, changes=_counts(contact_import))
            self._enqueue(session, contact_import)
            return contact_import

    # ---- housekeeping ------------------------------------------------------------------------------

    def delete_stale_uploads(self, limit: int = 1_000) -> int:
        """Deletes the uploads of imports that failed or were abandoned (cancelled, or stopped half-way
        without a word) more than `import_upload_retention_days` ago, and marks those imports `expired`,
        which cannot be resumed. Returns how many (at most `limit` per call; the job runs again)."""
        now = self.clock.now()
        cutoff = now - dt.timedelta(days=self.settings.import_upload_retention_days)
        days = f"{self.settings.import_upload_retention_days:g}"
        with self.db.transaction() as session:
            stale = session.execute(
                select(ContactImport.id, ContactImport.workspace_id, ContactImport.status, ContactImport.stored_path)
                .where(ContactImport.status.in_(RESUMABLE),
                       func.coalesce(ContactImport.updated_at, ContactImport.created_at) < cutoff)
                .order_by(ContactImport.id).limit(limit)).all()
            for import_id, workspace_id, status, _path in stale:
                session.execute(
                    update(ContactImport).where(ContactImport.id == import_id, ContactImport.status == status)
                    .values(status="expired", stored_path=None, finished_at=func.coalesce(ContactImport.finished_at,
                                                                                          now),
                            updated_at=now,
                            error=f"The uploaded file was deleted {days} days after the import stopped; import "
                                  f"the file again to add the rows not imported yet.")
                    .execution_options(synchronize_session=False))
                record_audit(session, Principal.system(workspace_id, "import-cleanup"), "contact_import.expired",
                             at=now, target_type="contact_import", target_id=import_id,
                             changes={"status": [status, "expired"]})
        for _id, _workspace_id, _status, path in stale:  # after the commit: an expired import never needs it
            self._delete_upload(path)
        return len(stale)

    # ---- helpers ---------------------------------------------------------------------------------

    def _enqueue(self, session: Session, contact_import: ContactImport) -> None:
        enqueue(session, JOB_KIND, {"import_id": contact_import.id}, now=self.clock.now(),
                workspace_id=contact_import.workspace_id, key=f"contact_import:{contact_import.id}")

    def _load(self, import_id: int) -> ContactImport:
        with self.db.read() as session:
            return _reload(session, import_id)

    def _fields(self, workspace_id: int) -> list[FieldChoice]:
        with self.db.read() as session:
            rows = session.scalars(select(CustomField).where(CustomField.workspace_id == workspace_id,
                                                             CustomField.entity == "contact")
                                   .order_by(CustomField.id))
            return [FieldChoice(row.key, row.label, row.type, tuple(row.options or ()), row.is_required)
                    for row in rows]


def _required_fields(mapping: dict[str, str], fields: dict[str, FieldChoice]) -> dict[str, str | None]:
    """Required custom fields → the column that fills each (None when no column does)."""
    columns = {target[len(FIELD_PREFIX):]: header for header, target in mapping.items()
               if target.startswith(FIELD_PREFIX)}
    return {key: columns.get(key) for key, field in sorted(fields.items()) if field.is_required}


def _owned(session: Session, principal: Principal, import_id: int) -> ContactImport:
    contact_import = session.scalar(select(ContactImport).where(ContactImport.id == import_id,
                                                                ContactImport.workspace_id == principal.workspace_id))
    if contact_import is None:
        raise ImportNotFound(f"No import {import_id} in this workspace.")
    return contact_import


def _reload(session: Session, import_id: int) -> ContactImport:
    contact_import = session.scalar(select(ContactImport).where(ContactImport.id == import_id)
                                    .execution_options(populate_existing=True))
    if contact_import is None:
        raise ImportNotFound(f"No import {import_id}.")
    return contact_import


def _counts(contact_import: ContactImport) -> dict[str, int]:
    return {"rows_total": contact_import.rows_total, "rows_created": contact_import.rows_created,
            "rows_updated": contact_import.rows_updated, "rows_skipped": contact_import.rows_skipped,
            "rows_failed": contact_import.rows_failed}


def _region(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationFailed(f"{value!r} is not a country code like GB or US.",
                               errors=[{"field": "default_region", "message": "is not a known region"}])
    return region


def _clean_filename(filename: str | None) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return (name or "upload.csv")[:255]
