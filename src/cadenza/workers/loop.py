"""The worker: relays the outbox, claims due jobs in batches, runs them, records outcomes in batches.

Run it inside `cadenza serve` (a thread) or as `cadenza worker` processes. On PostgreSQL any number of
workers share the queue (`FOR UPDATE SKIP LOCKED`); on SQLite run exactly one. While a batch runs, a
keeper thread renews the leases of the jobs still held, so a long job is never taken over by another
worker while this one is alive; a worker that dies stops renewing, and its jobs are claimed again once
their lease expires (delivery is at least once; see `cadenza.storage.queue`). On a clean stop the
current job finishes, the jobs of the batch not yet started go back to the queue, and the heartbeat row
is removed.

An idle worker waits for a wake-up or `worker_poll_seconds`, whichever comes first: enqueueing a due job
wakes it when the transaction commits (LISTEN/NOTIFY on PostgreSQL, an in-process signal in the same
process; see `cadenza.storage.wakeups`). Set `worker_wakeups` off to rely on polling alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time

from sqlalchemy import delete

from cadenza.bootstrap import Container
from cadenza.storage.models import WorkerHeartbeat
from cadenza.storage.queue import ClaimedJob
from cadenza.storage.registry import PermanentJobError
from cadenza.storage.wakeups import JobWakeups

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
MAINTENANCE_SECONDS = 3600.0
OUTBOX_KEPT = dt.timedelta(days=7)
HEARTBEATS_KEPT = dt.timedelta(days=1)


class Worker:
    def __init__(self, container: Container, *, batch_size: int | None = None) -> None:
        self.container = container
        self.batch_size = batch_size or container.settings.worker_batch_size
        self.id = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self._stop = threading.Event()
        self._stopped = threading.Event()  # the loop has returned: the lease keeper may stop too
        self._wake = threading.Event()  # a job was enqueued (or the worker is stopping): look now
        self.waits = {"woken": 0, "polled": 0}  # how idle waits ended, for logs and tests
        self.wakeups: JobWakeups | None = None  # while running with `worker_wakeups` on
        self._last_heartbeat = float("-inf")
        self._last_maintenance = float("-inf")
        self._held: list[int] = []  # claimed jobs not yet finished (the keeper renews their leases)
        self._held_lock = threading.Lock()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Look for due work now (called when a job is enqueued)."""
        self._wake.set()

    def run_forever(self) -> None:
        settings = self.container.settings
        log.info("worker %s started (polls every %.1f s%s)", self.id, settings.worker_poll_seconds,
                 ", woken when a job is enqueued" if settings.worker_wakeups else "")
        keeper = threading.Thread(target=self._keep_leases, name="cadenza-lease-keeper", daemon=True)
        keeper.start()
        self.wakeups = self.container.queue.wakeups(self.wake) if settings.worker_wakeups else None
        try:
            while not self._stop.is_set():
                try:
                    worked = self.run_once()
                except Exception:
                    log.exception("worker iteration failed")
                    worked = 0
                if not worked:
                    self._idle(settings.worker_poll_seconds)
        finally:
            if self.wakeups is not None:
                self.wakeups.close()
            self._stopped.set()
            keeper.join()
            self._sign_off()
        log.info("worker %s stopped (idle waits: %d woken, %d polled)", self.id, self.waits["woken"],
                 self.waits["polled"])

    def _idle(self, seconds: float) -> None:
        """Waits for a wake-up or `seconds`. A wake-up that came while the worker was busy ends the wait at
        once: it is cleared only after the wait, never before the pass that follows."""
        woken = self._wake.wait(seconds)
        self._wake.clear()
        self.waits["woken" if woken else "polled"] += 1

    def run_once(self) -> int:
        """One pass: heartbeat, outbox relay, one batch of due jobs. Returns how much work was done."""
        self.heartbeat()
        self.maintain()
        relayed = self.relay_outbox()
        return relayed + self.run_due_jobs()

    def heartbeat(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        now = self.container.clock.now()
        with self.container.db.transaction() as session:
            beat = session.get(WorkerHeartbeat, self.id)
            if beat is None:
                session.add(WorkerHeartbeat(id=self.id, hostname=socket.gethostname(), pid=os.getpid(),
                                            started_at=now, heartbeat_at=now))
            else:
                beat.heartbeat_at = now
        self._last_heartbeat = time.monotonic()

    def maintain(self, force: bool = False) -> None:
        """Hourly: forgets relayed facts after a week, expired idempotency keys, long-gone workers; queues the
        recurring jobs that are due (`JobRegistry.every`)."""
        if not force and time.monotonic() - self._last_maintenance < MAINTENANCE_SECONDS:
            return
        container = self.container
        now = container.clock.now()
        container.outbox.prune(now - OUTBOX_KEPT)
        container.idempotency.prune(now)
        with container.db.transaction() as session:
            session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.heartbeat_at < now - HEARTBEATS_KEPT))
        container.queue.schedule_recurring(container.jobs.recurring, now)
        self._last_maintenance = time.monotonic()

    def relay_outbox(self) -> int:
        container = self.container
        delivered = container.outbox.relay(container.clock.now(), topic_jobs=container.jobs.topic_jobs)
        for topic, workspace_id, payload in delivered:
            container.bus.publish_unsafe(topic, {"workspace_id": workspace_id, **payload})
        return len(delivered)

    def run_due_jobs(self) -> int:
        container = self.container
        jobs = container.queue.claim(self.id, container.clock.now(), self.batch_size)
        self._hold([job.id for job in jobs])
        done: list[int] = []
        try:
            for index, job in enumerate(jobs):
                if self._stop.is_set():
                    released = container.queue.release([j.id for j in jobs[index:]], self.id)
                    log.info("worker %s stopping: gave %d claimed jobs back", self.id, released)
                    break
                if self._run(job):
                    done.append(job.id)
                else:
                    self._unhold([job.id])
            container.queue.complete(done, container.clock.now(), worker_id=self.id)
        finally:
            self._unhold([job.id for job in jobs])
        return len(jobs)

    def _run(self, job: ClaimedJob) -> bool:
        handler = self.container.jobs.handlers.get(job.kind)
        now = self.container.clock.now
        if handler is None:
            self.container.queue.fail(job, f"no handler for job kind {job.kind!r}", now(), permanent=True)
            return False
        try:
            handler(job)
        except PermanentJobError as error:
            self.container.queue.fail(job, str(error), now(), permanent=True)
            return False
        except Exception as error:
            log.exception("job %s (%s) failed", job.id, job.kind)
            self.container.queue.fail(job, f"{type(error).__name__}: {error}", now())
            return False
        return True

    def _hold(self, job_ids: list[int]) -> None:
        with self._held_lock:
            self._held = list(job_ids)

    def _unhold(self, job_ids: list[int]) -> None:
        finished = set(job_ids)
        with self._held_lock:
            self._held = [i for i in self._held if i not in finished]

    def _keep_leases(self) -> None:
        interval = max(self.container.queue.lease.total_seconds() / 3, 0.05)
        while not self._stopped.wait(interval):
            with self._held_lock:
                held = list(self._held)
            if held:
                try:
                    self.container.queue.extend_lease(held, self.id, self.container.clock.now())
                except Exception:
                    log.exception("renewing leases failed")

    def _sign_off(self) -> None:
        try:
            with self.container.db.transaction() as session:
                session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id == self.id))
        except Exception:
            log.exception("removing the heartbeat of worker %s failed", self.id)


def start_in_thread(container: Container) -> tuple[Worker, threading.Thread]:
    worker = Worker(container)
    thread = threading.Thread(target=worker.run_forever, name="cadenza-worker", daemon=True)
    thread.start()
    return worker, thread
