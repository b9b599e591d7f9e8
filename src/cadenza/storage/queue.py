"""A durable job queue with due times, retries with backoff and per-key serialisation.

Jobs are written with `enqueue` inside the caller's unit of work, so a job exists if and only if the
change that caused it committed. Workers claim due jobs in batches: `FOR UPDATE SKIP LOCKED` on
PostgreSQL; on SQLite one writer at a time makes a guarded UPDATE enough.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from cadenza.storage.database import Database
from cadenza.storage.models import Job

LEASE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    workspace_id: int | None
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    key: str | None


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
    return job


def backoff(attempts: int) -> dt.timedelta:
    """15 s, 1 min, 4 min, 16 min … capped at 6 h."""
    return dt.timedelta(seconds=min(15 * 4 ** max(attempts - 1, 0), 6 * 3600))


class JobQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, worker_id: str, now: dt.datetime, limit: int = 50) -> list[ClaimedJob]:
        """Claims up to `limit` due jobs in one transaction. Expired leases are taken over."""
        due = and_(
            Job.due_at <= now,
            or_(Job.status == "queued", and_(Job.status == "running", Job.lease_until < now)),
        )
        with self.db.transaction() as session:
            # A key that is running elsewhere (with a live lease) is not claimed again.
            busy_keys = (
                select(Job.key).where(Job.status == "running", Job.lease_until >= now, Job.key.is_not(None))
                .scalar_subquery()
            )
            query = (
                select(Job).where(due, or_(Job.key.is_(None), Job.key.not_in(busy_keys)))
                .order_by(Job.due_at, Job.id).limit(limit)
            )
            if self.db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            jobs = list(session.scalars(query))
            seen_keys: set[str] = set()
            claimed: list[Job] = []
            for job in jobs:
                if job.key is not None:
                    if job.key in seen_keys:
                        continue
                    seen_keys.add(job.key)
                claimed.append(job)
            if not claimed:
                return []
            session.execute(
                update(Job).where(Job.id.in_([j.id for j in claimed]))
                .values(status="running", claimed_by=worker_id, lease_until=now + LEASE,
                        attempts=Job.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            return [
                ClaimedJob(j.id, j.workspace_id, j.kind, dict(j.payload or {}), j.attempts + 1, j.max_attempts,
                           j.key)
                for j in claimed
            ]

    def complete(self, job_ids: list[int], now: dt.datetime) -> None:
        """Marks many jobs done in one round trip."""
        if not job_ids:
            return
        with self.db.transaction() as session:
            session.execute(
                update(Job).where(Job.id.in_(job_ids))
                .values(status="done", finished_at=now, lease_until=None, last_error=None)
            )

    def fail(self, job: ClaimedJob, error: str, now: dt.datetime, *, permanent: bool = False) -> str:
        """Schedules a retry with backoff, or marks the job failed after its last attempt."""
        final = permanent or job.attempts >= job.max_attempts
        values: dict[str, Any] = {"last_error": error[:4000], "lease_until": None}
        if final:
            values.update(status="failed", finished_at=now)
        else:
            values.update(status="queued", due_at=now + backoff(job.attempts))
        with self.db.transaction() as session:
            session.execute(update(Job).where(Job.id == job.id).values(**values))
        return str(values["status"])

    def retry(self, job_id: int, now: dt.datetime, workspace_id: int | None = None) -> bool:
        with self.db.transaction() as session:
            query = update(Job).where(Job.id == job_id, Job.status.in_(["failed", "cancelled"]))
            if workspace_id is not None:
                query = query.where(Job.workspace_id == workspace_id)
            result = session.execute(query.values(status="queued", due_at=now, attempts=0, finished_at=None))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def cancel(self, job_id: int, now: dt.datetime, workspace_id: int | None = None) -> bool:
        with self.db.transaction() as session:
            query = update(Job).where(Job.id == job_id, Job.status == "queued")
            if workspace_id is not None:
                query = query.where(Job.workspace_id == workspace_id)
            result = session.execute(query.values(status="cancelled", finished_at=now))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def report_progress(self, job_id: int, done: int, total: int | None = None) -> None:
        with self.db.transaction() as session:
            values: dict[str, Any] = {"progress_done": done}
            if total is not None:
                values["progress_total"] = total
            session.execute(update(Job).where(Job.id == job_id).values(**values))

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
