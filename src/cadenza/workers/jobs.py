"""Background work as people see it: each job's status, progress and error, with retry and cancel.

The one place the REST API, the UI and the CLI read and control jobs. A workspace sees only its own
jobs (never system jobs, whose workspace is NULL); the operator (`actor=None`, the CLI) sees every job.
Retries and cancels are audited in the same transaction as the change.
"""

from __future__ import annotations

from cadenza.auth import Permission, Principal, record_audit
from cadenza.core.clock import Clock
from cadenza.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from cadenza.core.pagination import Page
from cadenza.storage import Database
from cadenza.storage.queue import STATUSES, JobInfo, JobQueue

OPERATOR_LABEL = "cli"


class JobService:
    def __init__(self, db: Database, clock: Clock, queue: JobQueue) -> None:
        self.db = db
        self.clock = clock
        self.queue = queue

    def list_jobs(self, actor: Principal | None, *, status: str | None = None, kind: str | None = None,
                  limit: int | None = None, cursor: str | None = None) -> Page[JobInfo]:
        """Newest first."""
        if status is not None and status not in STATUSES:
            raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}.", errors=[{"field": "status"}])
        return self.queue.list_jobs(self._workspace_of(actor, Permission.READ), status=status, kind=kind,
                                    limit=limit, cursor=cursor)

    def get_job(self, actor: Principal | None, job_id: int) -> JobInfo:
        job = self.queue.get_job(job_id, self._workspace_of(actor, Permission.READ))
        if job is None:
            raise NotFound(f"There is no job {job_id}.")
        return job

    def retry_job(self, actor: Principal | None, job_id: int) -> JobInfo:
        """Queues a failed or cancelled job again, due now, with a fresh set of attempts."""
        return self._change(actor, job_id, "retried")

    def cancel_job(self, actor: Principal | None, job_id: int) -> JobInfo:
        """Cancels a queued or running job (a running handler is told to stop at its next progress report)."""
        return self._change(actor, job_id, "cancelled")

    def _change(self, actor: Principal | None, job_id: int, action: str) -> JobInfo:
        workspace_id = self._workspace_of(actor, Permission.WRITE)
        before = self.get_job(actor, job_id)
        now = self.clock.now()
        with self.db.transaction() as session:
            change = self.queue.retry_in if action == "retried" else self.queue.cancel_in
            if not change(session, job_id, now, workspace_id):
                allowed = "failed or cancelled" if action == "retried" else "queued or running"
                raise Conflict(f"Job {job_id} is {before.status}: only {allowed} jobs can be {action}.")
            if before.workspace_id is not None:
                who = actor or Principal.system(before.workspace_id, OPERATOR_LABEL)
                record_audit(session, who, f"job.{action}", at=now, target_type="job", target_id=job_id,
                             changes={"status": [before.status, "queued" if action == "retried" else "cancelled"],
                                      "kind": before.kind})
        return self.get_job(actor, job_id)

    @staticmethod
    def _workspace_of(actor: Principal | None, permission: Permission) -> int | None:
        if actor is None:
            return None
        if not actor.can(permission):
            raise PermissionDenied(f"This needs the {permission} permission.")
        return actor.workspace_id
