"""`system.probe`: a built-in job that records which worker ran it, so operators can prove the fleet works.

`cadenza jobs probe --count 100` enqueues probes, waits, and shows how many each worker ran; a probe
run twice (a worker died after running it but before recording it done) shows two runs. The optional
`hold_seconds` in the payload keeps the job busy for a while, to see leases and shutdowns at work.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select

from cadenza.core.clock import Clock
from cadenza.storage.database import Database
from cadenza.storage.models import Job, ProbeRun
from cadenza.storage.queue import ClaimedJob, enqueue_many
from cadenza.storage.registry import JobRegistry, PermanentJobError

PROBE = "system.probe"
MAX_HOLD_SECONDS = 60.0


@dataclass(frozen=True)
class ProbeReport:
    jobs: int
    done: int
    runs_by_worker: dict[str, int]
    jobs_run_more_than_once: int


class Probe:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def register_jobs(self, registry: JobRegistry) -> None:
        registry.register(PROBE, self.run)

    def run(self, job: ClaimedJob) -> None:
        hold = job.payload.get("hold_seconds", 0)
        if not isinstance(hold, int | float) or not 0 <= hold <= MAX_HOLD_SECONDS:
            raise PermanentJobError(f"hold_seconds must be a number from 0 to {MAX_HOLD_SECONDS:g}")
        with self.db.transaction() as session:
            session.add(ProbeRun(job_id=job.id, worker_id=job.claimed_by or "unknown", ran_at=self.clock.now()))
        if hold:
            time.sleep(hold)

    def enqueue_probes(self, count: int, *, hold_seconds: float = 0) -> list[int]:
        """Adds `count` probe jobs, due now, in one transaction. Returns their ids."""
        now = self.clock.now()
        with self.db.transaction() as session:
            return enqueue_many(session, [{"kind": PROBE, "payload": {"hold_seconds": hold_seconds}}] * count,
                                now=now)

    def report(self, job_ids: list[int]) -> ProbeReport:
        with self.db.read() as session:
            done = session.scalar(select(func.count()).where(Job.id.in_(job_ids), Job.status == "done")) or 0
            runs = list(session.execute(select(ProbeRun.job_id, ProbeRun.worker_id)
                                        .where(ProbeRun.job_id.in_(job_ids))))
        per_job = Counter(job_id for job_id, _worker in runs)
        return ProbeReport(
            jobs=len(job_ids), done=int(done), runs_by_worker=dict(Counter(worker for _job, worker in runs)),
            jobs_run_more_than_once=sum(1 for n in per_job.values() if n > 1),
        )
