"""Plain factory functions for storage tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from cadenza.bootstrap import Container
from cadenza.storage.models import Job
from cadenza.storage.queue import JobInfo, enqueue


def make_job(container: Container, kind: str = "test.noop", payload: dict[str, Any] | None = None, *,
             due_in: dt.timedelta = dt.timedelta(0), **overrides: Any) -> int:
    """Enqueues one job in its own unit of work and returns its id."""
    now = container.clock.now()
    with container.db.transaction() as session:
        return enqueue(session, kind, payload or {}, now=now, due_at=now + due_in, **overrides).id


def job(container: Container, job_id: int) -> JobInfo:
    info = container.queue.get_job(job_id)
    assert info is not None
    return info


def statuses(container: Container) -> dict[int, str]:
    with container.db.read() as session:
        return dict(session.execute(select(Job.id, Job.status).order_by(Job.id)).all())
