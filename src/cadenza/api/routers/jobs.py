"""Background jobs of the workspace: status, progress, the error that stopped them; retry and cancel."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from cadenza.api.deps import can_read, can_write, get_container
from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.storage.queue import JobInfo
from cadenza.workers.jobs import JobService

router = APIRouter()

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]


class JobOut(BaseModel):
    id: int
    kind: str
    status: JobStatus
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

    @classmethod
    def of(cls, job: JobInfo) -> JobOut:
        return cls(id=job.id, kind=job.kind, status=job.status, key=job.key,  # type: ignore[arg-type]
                   payload=job.payload, attempts=job.attempts, max_attempts=job.max_attempts, due_at=job.due_at,
                   created_at=job.created_at, finished_at=job.finished_at, last_error=job.last_error,
                   progress_done=job.progress_done, progress_total=job.progress_total)


class JobPage(BaseModel):
    data: list[JobOut]
    next_cursor: str | None = None


def get_jobs(container: Container = Depends(get_container)) -> JobService:
    return JobService(container.db, container.clock, container.queue)


@router.get("/jobs", summary="List the workspace's jobs, newest first")
def list_jobs(status: JobStatus | None = Query(None), kind: str | None = Query(None),
              limit: int | None = Query(None), cursor: str | None = Query(None),
              principal: Principal = Depends(can_read), jobs: JobService = Depends(get_jobs)) -> JobPage:
    page = jobs.list_jobs(principal, status=status, kind=kind, limit=limit, cursor=cursor)
    return JobPage(data=[JobOut.of(job) for job in page.items], next_cursor=page.next_cursor)


@router.get("/jobs/{job_id}", summary="One job: status, attempts, progress and last error")
def get_job(job_id: int, principal: Principal = Depends(can_read), jobs: JobService = Depends(get_jobs)) -> JobOut:
    return JobOut.of(jobs.get_job(principal, job_id))


@router.post("/jobs/{job_id}/retry", summary="Run a failed or cancelled job again, now")
def retry_job(job_id: int, principal: Principal = Depends(can_write), jobs: JobService = Depends(get_jobs)) -> JobOut:
    return JobOut.of(jobs.retry_job(principal, job_id))


@router.post("/jobs/{job_id}/cancel", summary="Cancel a queued or running job")
def cancel_job(job_id: int, principal: Principal = Depends(can_write),
               jobs: JobService = Depends(get_jobs)) -> JobOut:
    return JobOut.of(jobs.cancel_job(principal, job_id))
