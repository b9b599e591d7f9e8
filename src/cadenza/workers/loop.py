"""The worker: relays the outbox, claims due jobs in batches, runs them, records outcomes in batches."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from sqlalchemy.orm import Session

from cadenza.bootstrap import Container
from cadenza.storage.models import WorkerHeartbeat
from cadenza.storage.queue import ClaimedJob, enqueue
from cadenza.storage.registry import PermanentJobError

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, container: Container, *, batch_size: int = 50) -> None:
        self.container = container
        self.batch_size = batch_size
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._last_heartbeat = 0.0

    def stop(self) -> None:
        self._stop.set()

    def run_forever(self) -> None:
        log.info("worker %s started", self.id)
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("worker iteration failed")
                worked = 0
            if not worked:
                self._stop.wait(self.container.settings.worker_poll_seconds)
        log.info("worker %s stopped", self.id)

    def run_once(self) -> int:
        """One pass: heartbeat, outbox relay, one batch of due jobs. Returns how much work was done."""
        self.heartbeat()
        relayed = self.relay_outbox()
        return relayed + self.run_due_jobs()

    def heartbeat(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_heartbeat < 5:
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

    def relay_outbox(self) -> int:
        container = self.container
        now = container.clock.now()

        def to_jobs(session: Session, topic: str, workspace_id: int | None, payload: dict[str, Any]) -> None:
            for kind in container.jobs.topic_jobs.get(topic, []):
                enqueue(session, kind, payload, now=now, workspace_id=workspace_id)

        delivered = container.outbox.relay(now, to_jobs)
        for topic, workspace_id, payload in delivered:
            container.bus.publish_unsafe(topic, {"workspace_id": workspace_id, **payload})
        return len(delivered)

    def run_due_jobs(self) -> int:
        container = self.container
        jobs = container.queue.claim(self.id, container.clock.now(), self.batch_size)
        done: list[int] = []
        for job in jobs:
            if self._run(job):
                done.append(job.id)
        container.queue.complete(done, container.clock.now())
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


def start_in_thread(container: Container) -> tuple[Worker, threading.Thread]:
    worker = Worker(container)
    thread = threading.Thread(target=worker.run_forever, name="cadenza-worker", daemon=True)
    thread.start()
    return worker, thread
