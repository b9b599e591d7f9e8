"""A durable job queue with due times, retries with backoff and per-key serialisation.

Jobs are written with `enqueue` inside the caller's unit of work, so a job exists if and only if the
change that caused it committed. Workers claim due jobs in batches and record completions in batches.

Claiming. On PostgreSQL, `FOR UPDATE SKIP LOCKED` lets any number of workers claim side by side without
ever taking the same job. On SQLite every writer begins `IMMEDIATE`, so claims are serialised by the
database lock and a guarded UPDATE is enough; one worker is the supported mode there (more add lock
contention, not throughput).

Per-key serialisation. Jobs sharing a `key` (one contact in one journey) never run at the same time: a
key with a running job whose lease is still live is not claimed, and one claim takes at most one job per
key. On PostgreSQL a snapshot taken before a concurrent claim committed cannot see that claim, so each
key is also taken with a transaction-scoped advisory lock and re-checked with a fresh snapshot after it.

Delivery is at least once. A claim writes a lease (`running` until `lease_until`); the handler's work
commits in its own unit of work, and `complete` marks the job done afterwards. A worker that dies between
the two (or while the job runs) leaves the lease to expire, and the job is claimed and run again; nothing
is lost. Handlers must therefore be idempotent: they check what they already did, and every side effect
that leaves the system carries an idempotency key. A job whose lease expired on its last attempt fails
with a visible reason instead of being retried forever (a job that kills its worker cannot loop).

Wake-ups. Enqueueing a due job wakes idle workers when the transaction commits (NOTIFY on PostgreSQL, an
in-process signal on every dialect; see `cadenza.storage.wakeups`), so a job starts at once however long
`worker_poll_seconds` is; the poll stays as the safety net.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BindParameter, Row, Select, Table, bindparam, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from cadenza.core.pagination import Page, clamp_limit, id_from_cursor, next_id_cursor
from cadenza.storage.base import UTCDateTime
from cadenza.storage.database import Database
from cadenza.storage.models import Job
from cadenza.storage.wakeups import JobWakeups, announce_job

LEASE = dt.timedelta(minutes=5)
STATUSES = ("queued", "running", "done", "failed", "cancelled")
# Namespace of the advisory locks that serialise claims per job key (PostgreSQL only).
_KEY_LOCK_NAMESPACE = 7_311_001
# Namespace of the advisory locks that make scheduling a recurring job a singleton (PostgreSQL only).
_RECURRING_LOCK_NAMESPACE = 7_311_003


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    workspace_id: int | None
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    key: str | None
    claimed_by: str = ""


@dataclass(frozen=True)
class JobInfo:
    """What an operator or a workspace sees of one job: status, progress, the error that stopped it."""

    id: int
    workspace_id: int | None
    kind: str
    status: str
    key: str | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    due_at: dt.datetime
    created_at: dt.datetime
    finished_at: dt.datetime | None
    last_error: str | None
    progress_done: int
    progress_total: int | None
    claimed_by: str | None
    lease_until: dt.datetime | None

    @classmethod
    def of(cls, job: Job) -> JobInfo:
        return cls(job.id, job.workspace_id, job.kind, job.status, job.key, dict(job.payload or {}), job.attempts,
                   job.max_attempts, job.due_at, job.created_at, job.finished_at, job.last_error,
                   job.progress_done, job.progress_total, job.claimed_by, job.lease_until)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    now: dt.datetime,
    due_at: dt.datetime | None = None,
    workspace_id: int | None = None,
    key: str | None = None,
    max_attempts: int = 5,
) -> Job:
    job = Job(
        workspace_id=workspace_id, kind=kind, payload=payload, key=key, status="queued",
        due_at=due_at or now, attempts=0, max_attempts=max_attempts, created_at=now,
        progress_done=0,
    )
    session.add(job)
    session.flush()
    if job.due_at <= now:
        announce_job(session)
    return job


def enqueue_many(session: Session, jobs: list[dict[str, Any]], *, now: dt.datetime) -> list[int]:
    """Adds many jobs in one statement, in list order: dicts of kind, payload and optionally workspace_id,
    key, due_at, max_attempts. Returns their ids, in the same order."""
    if not jobs:
        return []
    rows = [
        {"workspace_id": job.get("workspace_id"), "kind": job["kind"], "payload": job.get("payload", {}),
         "key": job.get("key"), "status": "queued", "due_at": job.get("due_at") or now, "attempts": 0,
         "max_attempts": job.get("max_attempts", 5), "created_at": now, "progress_done": 0}
        for job in jobs
    ]
    ids = list(session.scalars(insert(Job).returning(Job.id, sort_by_parameter_order=True), rows))
    if any(row["due_at"] <= now for row in rows):
        announce_job(session)
    return ids


def backoff(attempts: int) -> dt.timedelta:
    """15 s, 1 min, 4 min, 16 min … capped at 6 h."""
    return dt.timedelta(seconds=min(15 * 4 ** max(attempts - 1, 0), 6 * 3600))


def _one_per_key(jobs: list[Row[Any]]) -> list[Row[Any]]:
    seen: set[str] = set()
    kept: list[Row[Any]] = []
    for job in jobs:
        if job.key is not None:
            if job.key in seen:
                continue
            seen.add(job.key)
        kept.append(job)
    return kept


# The worker's statements are built once, with bound parameters: building SQLAlchemy expressions costs
# more than running them, and a worker runs them for every batch.
_jobs = cast(Table, Job.__table__)
_now = bindparam("now", type_=UTCDateTime())
_ids: BindParameter[Any] = bindparam("ids", expanding=True)


def _due_statements(*, skip_locked: bool) -> tuple[Select[Any], Select[Any]]:
    """Due queued jobs, in (due_at, id) order straight from the (status, due_at, id) index, so a claim costs
    the same with ten jobs waiting or ten million; and running jobs whose lease expired (few)."""
    c = _jobs.c
    columns = (c.id, c.workspace_id, c.kind, c.payload, c.attempts, c.max_attempts, c.key, c.status, c.due_at)
    # A key running elsewhere with a live lease is not claimed again. NULL keys are left out of the
    # subquery: one NULL in a NOT IN list would make the test unknown for every keyed job.
    busy_keys = select(c.key).where(c.status == "running", c.lease_until >= _now, c.key.is_not(None))
    key_is_free = or_(c.key.is_(None), c.key.not_in(busy_keys.scalar_subquery()))
    queued = (select(*columns).where(c.status == "queued", c.due_at <= _now, key_is_free)
              .order_by(c.due_at, c.id).limit(bindparam("limit")))
    expired = (select(*columns).where(c.status == "running", c.lease_until < _now, c.due_at <= _now, key_is_free)
               .order_by(c.due_at, c.id).limit(bindparam("limit")))
    if skip_locked:
        return queued.with_for_update(skip_locked=True), expired.with_for_update(skip_locked=True)
    return queued, expired


_DUE = {False: _due_statements(skip_locked=False), True: _due_statements(skip_locked=True)}
_CLAIM = update(_jobs).where(_jobs.c.id.in_(_ids)).values(
    status="running", claimed_by=bindparam("worker"), lease_until=bindparam("lease_until", type_=UTCDateTime()),
    attempts=_jobs.c.attempts + 1)
_LOST = update(_jobs).where(_jobs.c.id.in_(_ids)).values(
    status="failed", finished_at=_now, lease_until=None,
    last_error="The worker running the last attempt stopped before it finished (its lease expired).")
_COMPLETE = update(_jobs).where(_jobs.c.id.in_(_ids), _jobs.c.status == "running").values(
    status="done", finished_at=_now, lease_until=None, last_error=None)
_COMPLETE_MINE = _COMPLETE.where(_jobs.c.claimed_by == bindparam("worker"))
_LOCK_KEYS = text("SELECT k FROM unnest(CAST(:keys AS text[])) AS k "
                  "WHERE pg_try_advisory_xact_lock(:namespace, hashtext(k))")


class JobQueue:
    def __init__(self, db: Database, *, lease: dt.timedelta = LEASE) -> None:
        self.db = db
        self.lease = lease

    def wakeups(self, on_wake: Callable[[], None], *, listen: bool = True) -> JobWakeups:
        """Calls `on_wake` when a due job is enqueued: after any commit in this process that enqueued one,
        and, on PostgreSQL with `listen`, on a NOTIFY from any process. `close()` the result when done."""
        return JobWakeups(self.db.engine, on_wake, listen=listen)

    # ---- what workers do -----------------------------------------------------------------------

    def claim(self, worker_id: str, now: dt.datetime, limit: int = 50) -> list[ClaimedJob]:
        """Claims up to `limit` due jobs in one transaction. Expired leases are taken over."""
        postgres = self.db.is_postgres
        with self.db.transaction() as session:
            jobs = [row for statement in _DUE[postgres]
                    for row in session.execute(statement, {"now": now, "limit": limit})]
            jobs = _one_per_key(sorted(jobs, key=lambda j: (j.due_at, j.id))[:limit])
            if postgres:
                jobs = self._lock_keys(session, jobs, now)
            # The worker running this job's last attempt died (its lease expired): fail it, visibly.
            lost = {j.id for j in jobs if j.status == "running" and j.attempts >= j.max_attempts}
            if lost:
                session.execute(_LOST, {"ids": list(lost), "now": now})
            claimed = [j for j in jobs if j.id not in lost]
            if not claimed:
                return []
            session.execute(_CLAIM, {"ids": [j.id for j in claimed], "worker": worker_id,
                                     "lease_until": now + self.lease})
            return [
                ClaimedJob(j.id, j.workspace_id, j.kind, dict(j.payload or {}), j.attempts + 1, j.max_attempts,
                           j.key, worker_id)
                for j in claimed
            ]

    def _lock_keys(self, session: Session, jobs: list[Row[Any]], now: dt.datetime) -> list[Row[Any]]:
        """Takes each key's advisory lock (held until this claim commits), then re-checks with a fresh
        snapshot that no other claim, committed meanwhile, already runs the key. PostgreSQL only."""
        keys = [j.key for j in jobs if j.key is not None]
        if not keys:
            return jobs
        locked = set(session.scalars(_LOCK_KEYS, {"keys": keys, "namespace": _KEY_LOCK_NAMESPACE}))
        busy = set(session.scalars(
            select(Job.key).where(Job.key.in_(locked), Job.status == "running", Job.lease_until >= now)
        )) if locked else set()
        return [j for j in jobs if j.key is None or (j.key in locked and j.key not in busy)]

    def complete(self, job_ids: list[int], now: dt.datetime, *, worker_id: str | None = None) -> int:
        """Marks many jobs done in one round trip. A job no longer running (cancelled, or taken over by
        another worker when `worker_id` is given) keeps its state. Returns how many were marked."""
        if not job_ids:
            return 0
        with self.db.transaction() as session:
            if worker_id is None:
                result = session.execute(_COMPLETE, {"ids": job_ids, "now": now})
            else:
                result = session.execute(_COMPLETE_MINE, {"ids": job_ids, "now": now, "worker": worker_id})
            return int(result.rowcount)  # type: ignore[attr-defined]

    def fail(self, job: ClaimedJob, error: str, now: dt.datetime, *, permanent: bool = False) -> str:
        """Schedules a retry with backoff, or marks the job failed after its last attempt. Returns the
        job's new status; a job no longer held by this claim (cancelled, taken over) is left alone."""
        final = permanent or job.attempts >= job.max_attempts
        values: dict[str, Any] = {"last_error": error[:4000], "lease_until": None}
        if final:
            values.update(status="failed", finished_at=now)
        else:
            values.update(status="queued", due_at=now + backoff(job.attempts))
        query = update(Job).where(Job.id == job.id, Job.status == "running")
        if job.claimed_by:
            query = query.where(Job.claimed_by == job.claimed_by)
        with self.db.transaction() as session:
            if session.execute(query.values(**values)).rowcount:  # type: ignore[attr-defined]
                return str(values["status"])
            return str(session.scalar(select(Job.status).where(Job.id == job.id)))

    def release(self, job_ids: list[int], worker_id: str) -> int:
        """Gives claimed jobs that never started back to the queue (a worker shutting down), without
        counting the attempt."""
        if not job_ids:
            return 0
        with self.db.transaction() as session:
            result = session.execute(
                update(Job).where(Job.id.in_(job_ids), Job.status == "running", Job.claimed_by == worker_id)
                .values(status="queued", lease_until=None, claimed_by=None, attempts=Job.attempts - 1)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def extend_lease(self, job_ids: list[int], worker_id: str, now: dt.datetime) -> int:
        """Renews the lease of jobs this worker still holds (a long batch)."""
        if not job_ids:
            return 0
        with self.db.transaction() as session:
            result = session.execute(
                update(Job).where(Job.id.in_(job_ids), Job.status == "running", Job.claimed_by == worker_id)
                .values(lease_until=now + self.lease)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def report_progress(self, job_id: int, done: int, total: int | None = None) -> bool:
        """Records how far a running job got. Returns False when the job is no longer running (it was
        cancelled): a long handler should then stop where it is."""
        values: dict[str, Any] = {"progress_done": done}
        if total is not None:
            values["progress_total"] = total
        with self.db.transaction() as session:
            result = session.execute(update(Job).where(Job.id == job_id, Job.status == "running").values(**values))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def schedule_recurring(self, every: Mapping[str, dt.timedelta], now: dt.datetime) -> list[str]:
        """Makes sure each recurring job kind (a system job keyed by its kind) has its next run queued: due one
        interval after the last run was due (or after now, the first time). Returns the kinds queued."""
        queued: list[str] = []
        for kind, interval in sorted(every.items()):
            with self.db.transaction() as session:
                if self.db.is_postgres:  # two workers scheduling at once queue it once
                    session.execute(text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:kind))"),
                                    {"namespace": _RECURRING_LOCK_NAMESPACE, "kind": kind})
                last = session.execute(select(Job.status, Job.due_at).where(Job.key == kind)
                                       .order_by(Job.id.desc()).limit(1)).first()
                if last is not None and last.status in ("queued", "running"):
                    continue
                due_at = now + interval if last is None else max(now, last.due_at + interval)
                enqueue(session, kind, {}, now=now, due_at=due_at, key=kind)
                queued.append(kind)
        return queued

    # ---- what operators and workspaces do ----------------------------------------------------

    def retry_in(self, session: Session, job_id: int, now: dt.datetime, workspace_id: int | None = None) -> bool:
        """Queues a failed or cancelled job again, due now, with a fresh set of attempts (its last error
        stays visible until it succeeds). `workspace_id` restricts to that workspace's jobs."""
        query = update(Job).where(Job.id == job_id, Job.status.in_(["failed", "cancelled"]))
        if workspace_id is not None:
            query = query.where(Job.workspace_id == workspace_id)
        result = session.execute(query.values(status="queued", due_at=now, attempts=0, finished_at=None,
                                              claimed_by=None, lease_until=None))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def cancel_in(self, session: Session, job_id: int, now: dt.datetime, workspace_id: int | None = None) -> bool:
        """Cancels a queued or running job. A running handler is not interrupted: its outcome is no longer
        recorded, and `report_progress` tells it to stop."""
        query = update(Job).where(Job.id == job_id, Job.status.in_(["queued", "running"]))
        if workspace_id is not None:
            query = query.where(Job.workspace_id == workspace_id)
        result = session.execute(query.values(status="cancelled", finished_at=now, lease_until=None))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def retry(self, job_id: int, now: dt.datetime, workspace_id: int | None = None) -> bool:
        with self.db.transaction() as session:
            return self.retry_in(session, job_id, now, workspace_id)

    def cancel(self, job_id: int, now: dt.datetime, workspace_id: int | None = None) -> bool:
        with self.db.transaction() as session:
            return self.cancel_in(session, job_id, now, workspace_id)

    def get_job(self, job_id: int, workspace_id: int | None = None) -> JobInfo | None:
        """One job; `workspace_id` restricts to that workspace's jobs (never the system's)."""
        query = select(Job).where(Job.id == job_id)
        if workspace_id is not None:
            query = query.where(Job.workspace_id == workspace_id)
        with self.db.read() as session:
            job = session.scalar(query)
            return JobInfo.of(job) if job is not None else None

    def list_jobs(self, workspace_id: int | None = None, *, status: str | None = None, kind: str | None = None,
                  limit: int | None = None, cursor: str | None = None) -> Page[JobInfo]:
        """Newest first. `workspace_id` restricts to that workspace's jobs; None is the operator's view of
        every job, system jobs included."""
        limit = clamp_limit(limit)
        query = select(Job)
        if workspace_id is not None:
            query = query.where(Job.workspace_id == workspace_id)
        if status is not None:
            query = query.where(Job.status == status)
        if kind is not None:
            query = query.where(Job.kind == kind)
        if cursor:
            query = query.where(Job.id < id_from_cursor(cursor))
        with self.db.read() as session:
            rows = [JobInfo.of(job) for job in session.scalars(query.order_by(Job.id.desc()).limit(limit + 1))]
        next_cursor = next_id_cursor(rows, limit)
        return Page(rows[:limit], next_cursor)

    def depth(self, now: dt.datetime) -> tuple[int, float]:
        """(number of due queued jobs, age in seconds of the oldest one)."""
        with self.db.read() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(Job.due_at)).where(Job.status == "queued", Job.due_at <= now)
            ).one()
        if not oldest:
            return int(count or 0), 0.0
        if isinstance(oldest, str):  # SQLite aggregate loses the column type
            oldest = dt.datetime.fromisoformat(oldest)
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.UTC)
        return int(count or 0), max((now - oldest).total_seconds(), 0.0)
