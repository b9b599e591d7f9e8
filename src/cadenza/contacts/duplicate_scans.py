"""The duplicate scan as background work: queued from the UI or the API, run by a worker, followed by polling.

`start_scan` writes a `DuplicateScan` and its job (`contacts.duplicate_scan`) in one transaction and
returns at once. One scan runs per workspace at a time: while one is queued or running its
`active_workspace_id` holds the workspace id, which is unique, so a second request (even a concurrent
one) gets the running scan back instead of a new one.

The job marks the scan running, calls `DuplicateService.scan_workspace` and records its progress (rows
read, pairs stored) every few thousand rows on the scan and on the job; then `done` with the number of
new pairs. An attempt that fails records its error on the scan, which shows `queued` again while the job
waits for its retry and `failed` after the last attempt. A cancelled scan (here, or its job through the
jobs API) stops at its next progress report; pairs already stored stay (a scan is idempotent). A scan
whose job ended without telling it (its worker died on the last attempt) is settled from the job's state
when it is read or when the next scan is asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cadenza.auth import Permission, Principal, record_audit
from cadenza.contacts.duplicates import DuplicateService
from cadenza.contacts.errors import require
from cadenza.contacts.models import DuplicateScan
from cadenza.core.clock import Clock
from cadenza.core.errors import Conflict, NotFound
from cadenza.core.pagination import Page, clamp_limit, id_from_cursor, next_id_cursor
from cadenza.storage import Database
from cadenza.storage.dialect import insert_ignoring_conflicts
from cadenza.storage.models import Job
from cadenza.storage.queue import ClaimedJob, JobQueue, enqueue
from cadenza.storage.registry import JobRegistry

JOB_KIND = "contacts.duplicate_scan"
ACTIVE = ("queued", "running")
MAX_ATTEMPTS = 3
STOPPED_UNSEEN = "The scan's job ended without finishing the scan (its worker stopped during the last attempt)."


@dataclass(frozen=True)
class ScanInfo:
    """A scan as people see it."""

    id: int
    status: str  # queued|running|done|failed|cancelled
    job_id: int | None
    contacts_done: int
    contacts_total: int | None
    pairs_found: int
    error: str | None
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        if not self.contacts_total:
            return 0
        return min(99, self.contacts_done * 100 // self.contacts_total)


class ScanNotFound(NotFound):
    title = "Duplicate scan not found"
    type_slug = "duplicate-scan-not-found"


class _Cancelled(Exception):
    """The scan (or its job) was cancelled while it ran."""


class DuplicateScanService:
    def __init__(self, db: Database, clock: Clock, queue: JobQueue, duplicates: DuplicateService) -> None:
        self.db = db
        self.clock = clock
        self.queue = queue
        self.duplicates = duplicates

    def register_jobs(self, registry: JobRegistry) -> None:
        registry.register(JOB_KIND, self._run_job)

    # ---- starting, reading, cancelling ------------------------------------------------------

    def start_scan(self, principal: Principal) -> tuple[ScanInfo, bool]:
        """Queues a scan of the workspace, or finds the one already queued or running. Returns the scan and
        whether this call started it."""
        require(principal, Permission.WRITE)
        workspace_id = principal.workspace_id
        now = self.clock.now()
        with self.db.transaction() as session:
            running = _active(session, workspace_id)
            if running is not None and _settle(session, running, now) is None:
                return _info(session, running), False
            statement = insert_ignoring_conflicts(session, DuplicateScan, ["active_workspace_id"])
            scan_id = session.scalar(statement.returning(DuplicateScan.id), {
                "workspace_id": workspace_id, "active_workspace_id": workspace_id, "status": "queued",
                "contacts_done": 0, "pairs_found": 0, "requested_by": principal.label, "created_at": now})
            if scan_id is None:  # another request started one meanwhile (it committed first): that is the one
                running = _active(session, workspace_id)
                if running is None:
                    raise Conflict("A duplicate scan started and ended meanwhile; ask again.")
                return _info(session, running), False
            job = enqueue(session, JOB_KIND, {"scan_id": scan_id}, now=now, workspace_id=workspace_id,
                          key=f"duplicate_scan:{workspace_id}", max_attempts=MAX_ATTEMPTS)
            scan = session.get_one(DuplicateScan, scan_id)
            scan.job_id = job.id
            record_audit(session, principal, "duplicate_scan.started", at=now, target_type="duplicate_scan",
                         target_id=scan_id, changes={"job_id": job.id})
            session.flush()
            return _info(session, scan), True

    def get_scan(self, principal: Principal, scan_id: int) -> ScanInfo:
        require(principal, Permission.READ)
        with self.db.read() as session:
            return _info(session, _owned(session, principal, scan_id))

    def latest_scan(self, principal: Principal) -> ScanInfo | None:
        require(principal, Permission.READ)
        with self.db.read() as session:
            scan = session.scalar(select(DuplicateScan).where(DuplicateScan.workspace_id == principal.workspace_id)
                                  .order_by(DuplicateScan.id.desc()).limit(1))
            return _info(session, scan) if scan is not None else None

    def list_scans(self, principal: Principal, limit: int | None = None,
                   cursor: str | None = None) -> Page[ScanInfo]:
        """The workspace's scans, newest first."""
        require(principal, Permission.READ)
        limit = clamp_limit(limit)
        query = select(DuplicateScan).where(DuplicateScan.workspace_id == principal.workspace_id)
        if cursor:
            query = query.where(DuplicateScan.id < id_from_cursor(cursor))
        with self.db.read() as session:
            rows = list(session.scalars(query.order_by(DuplicateScan.id.desc()).limit(limit + 1)))
            items = [_info(session, scan) for scan in rows[:limit]]
        return Page(items, next_id_cursor(rows, limit))

    def cancel_scan(self, principal: Principal, scan_id: int) -> ScanInfo:
        """Stops a queued or running scan (a running one at its next progress report); pairs found so far
        stay."""
        require(principal, Permission.WRITE)
        now = self.clock.now()
        with self.db.transaction() as session:
            scan = _owned(session, principal, scan_id)
            if scan.status not in ACTIVE or _settle(session, scan, now) is not None:
                raise Conflict(f"Duplicate scan {scan_id} is already {scan.status}.")
            _end(scan, "cancelled", now)
            if scan.job_id is not None:
                self.queue.cancel_in(session, scan.job_id, now, principal.workspace_id)
            record_audit(session, principal, "duplicate_scan.cancelled", at=now, target_type="duplicate_scan",
                         target_id=scan_id, changes={"contacts_done": scan.contacts_done,
                                                     "pairs_found": scan.pairs_found})
            session.flush()
            return _info(session, scan)

    # ---- running (the job) ------------------------------------------------------------------

    def _run_job(self, job: ClaimedJob) -> None:
        scan_id = int(job.payload["scan_id"])
        workspace_id = self._begin(scan_id)
        if workspace_id is None:
            return  # cancelled or already ended: nothing to do
        try:
            total = self.duplicates.rows_to_scan(workspace_id)
            self._progress(job, scan_id, 0, 0, total)
            found = self.duplicates.scan_workspace(
                workspace_id, progress=lambda done, pairs: self._progress(job, scan_id, done, pairs, total))
        except _Cancelled:
            return
        except Exception as error:
            self._failed(scan_id, f"{type(error).__name__}: {error}", last=job.attempts >= job.max_attempts)
            raise
        self._finish(scan_id, found)

    def _begin(self, scan_id: int) -> int | None:
        now = self.clock.now()
        with self.db.transaction() as session:
            scan = session.get(DuplicateScan, scan_id)
            if scan is None or scan.status not in ACTIVE:
                return None
            scan.status = "running"
            scan.started_at = scan.started_at or now
            return scan.workspace_id

    def _progress(self, job: ClaimedJob, scan_id: int, done: int, pairs: int, total: int) -> None:
        if not self.queue.report_progress(job.id, done, total):
            raise _Cancelled()  # the job was cancelled (through the jobs API)
        with self.db.transaction() as session:
            moved = session.execute(update(DuplicateScan).where(DuplicateScan.id == scan_id,
                                                                DuplicateScan.status == "running")
                                    .values(contacts_done=done, contacts_total=max(total, done), pairs_found=pairs))
            if not moved.rowcount:  # type: ignore[attr-defined]
                raise _Cancelled()

    def _finish(self, scan_id: int, found: int) -> None:
        now = self.clock.now()
        with self.db.transaction() as session:
            scan = session.get(DuplicateScan, scan_id)
            if scan is None or scan.status != "running":
                return
            scan.pairs_found = found
            scan.contacts_done = max(scan.contacts_done, scan.contacts_total or 0)
            _end(scan, "done", now)
            record_audit(session, Principal.system(scan.workspace_id, "duplicate scan"), "duplicate_scan.finished",
                         at=now, target_type="duplicate_scan", target_id=scan_id,
                         changes={"pairs_found": found, "contacts_done": scan.contacts_done})

    def _failed(self, scan_id: int, error: str, *, last: bool) -> None:
        """An attempt failed: the scan shows the error, and waits for the job's retry unless it was the last."""
        now = self.clock.now()
        with self.db.transaction() as session:
            scan = session.get(DuplicateScan, scan_id)
            if scan is None or scan.status not in ACTIVE:
                return
            scan.error = error[:4000]
            if last:
                _end(scan, "failed", now)
            else:
                scan.status = "queued"


# ---- helpers ---------------------------------------------------------------------------------


def _active(session: Session, workspace_id: int) -> DuplicateScan | None:
    return session.scalar(select(DuplicateScan).where(DuplicateScan.active_workspace_id == workspace_id))


def _end(scan: DuplicateScan, status: str, now: dt.datetime) -> None:
    scan.status = status
    scan.active_workspace_id = None
    scan.finished_at = now


def _job_state(session: Session, scan: DuplicateScan) -> tuple[str, str | None] | None:
    """The status and error of the scan's job, when the job has ended but the scan still says it runs."""
    if scan.status not in ACTIVE or scan.job_id is None:
        return None
    row = session.execute(select(Job.status, Job.last_error).where(Job.id == scan.job_id)).first()
    if row is None:
        return "failed", STOPPED_UNSEEN
    status, error = row
    if status in ("queued", "running"):
        return None
    return ("cancelled", None) if status == "cancelled" else ("failed", error or STOPPED_UNSEEN)


def _settle(session: Session, scan: DuplicateScan, now: dt.datetime) -> str | None:
    """Ends a scan whose job ended without it (in a writing unit of work). Returns the new status, if any."""
    state = _job_state(session, scan)
    if state is None:
        return None
    status, error = state
    scan.error = error or scan.error
    _end(scan, status, now)
    session.flush()
    return status


def _info(session: Session, scan: DuplicateScan) -> ScanInfo:
    status, error, finished_at = scan.status, scan.error, scan.finished_at
    state = _job_state(session, scan)
    if state is not None:  # shown as it will be settled
        status, error = state[0], state[1] or error
    return ScanInfo(scan.id, status, scan.job_id, scan.contacts_done, scan.contacts_total, scan.pairs_found, error,
                    scan.requested_by, scan.created_at, scan.started_at, finished_at)


def _owned(session: Session, principal: Principal, scan_id: int) -> DuplicateScan:
    scan = session.scalar(select(DuplicateScan).where(DuplicateScan.id == scan_id,
                                                      DuplicateScan.workspace_id == principal.workspace_id))
    if scan is None:
        raise ScanNotFound(f"No duplicate scan {scan_id} in this workspace.")
    return scan
