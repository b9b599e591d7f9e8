"""The worker loop, run in-process: handlers, outcomes, the outbox relay, leases, shutdown, heartbeats."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from cadenza.bootstrap import Container
from cadenza.core.clock import FrozenClock
from cadenza.storage.models import OutboxMessage, WorkerHeartbeat
from cadenza.storage.outbox import CONTACT_CHANGED, contact_changed, publish_many
from cadenza.storage.queue import ClaimedJob
from cadenza.storage.registry import PermanentJobError
from cadenza.workers.loop import Worker
from tests.conftest import Actors
from tests.storage.factories import job, make_job


def register(container: Container, kind: str, handler: Callable[[ClaimedJob], None]) -> None:
    container.jobs.register(kind, handler)


def test_due_jobs_run_once_each_and_are_completed_together(container: Container, clock: FrozenClock) -> None:
    seen: list[tuple[int, dict[str, Any]]] = []
    register(container, "test.record", lambda j: seen.append((j.id, j.payload)))
    ids = [make_job(container, "test.record", {"i": i}) for i in range(3)]
    later = make_job(container, "test.record", {"i": 9}, due_in=dt.timedelta(minutes=5))

    assert Worker(container).run_once() == 3

    assert seen == [(ids[0], {"i": 0}), (ids[1], {"i": 1}), (ids[2], {"i": 2})]
    assert [(job(container, i).status, job(container, i).finished_at) for i in ids] == [("done", clock.now())] * 3
    assert job(container, later).status == "queued"
    assert Worker(container).run_once() == 0


def test_a_failing_handler_is_retried_later_with_its_error_recorded(container: Container,
                                                                    clock: FrozenClock) -> None:
    def broken(_job: ClaimedJob) -> None:
        raise ValueError("the SMTP server said no")

    register(container, "test.broken", broken)
    job_id = make_job(container, "test.broken")

    Worker(container).run_once()

    info = job(container, job_id)
    assert (info.status, info.attempts, info.last_error) == ("queued", 1, "ValueError: the SMTP server said no")
    assert info.due_at == clock.now() + dt.timedelta(seconds=15)


def test_a_permanent_error_fails_the_job_at_once(container: Container) -> None:
    def refuses(_job: ClaimedJob) -> None:
        raise PermanentJobError("the template no longer exists")

    register(container, "test.refuses", refuses)
    job_id = make_job(container, "test.refuses")

    Worker(container).run_once()

    info = job(container, job_id)
    assert (info.status, info.attempts, info.last_error) == ("failed", 1, "the template no longer exists")


def test_a_job_of_an_unknown_kind_fails_with_a_reason(container: Container) -> None:
    job_id = make_job(container, "nobody.handles.this")

    Worker(container).run_once()

    info = job(container, job_id)
    assert (info.status, info.last_error) == ("failed", "no handler for job kind 'nobody.handles.this'")


def test_a_job_run_but_not_recorded_done_runs_again_after_its_lease(container: Container,
                                                                    clock: FrozenClock) -> None:
    # At least once: the worker died after the handler's own transaction but before `complete`.
    runs: list[int] = []
    register(container, "test.record", lambda j: runs.append(j.attempts))
    job_id = make_job(container, "test.record")
    (claimed,) = container.queue.claim("dead-worker", clock.now())
    container.jobs.handlers["test.record"](claimed)  # it ran; then the process was killed

    assert Worker(container).run_once() == 0  # the dead worker's lease still holds
    clock.advance(minutes=5, seconds=1)
    assert Worker(container).run_once() == 1

    assert runs == [1, 2]
    assert (job(container, job_id).status, job(container, job_id).attempts) == ("done", 2)


def test_the_worker_relays_facts_to_topic_jobs_and_in_process_subscribers_after_commit(
        container: Container, actors: Actors) -> None:
    ws = actors.alice.workspace_id
    container.jobs.on_topic(CONTACT_CHANGED, "test.refresh")
    refreshed: list[dict[str, Any]] = []
    register(container, "test.refresh", lambda j: refreshed.append(j.payload))
    received: list[tuple[dict[str, Any], int]] = []

    def subscriber(payload: dict[str, Any]) -> None:
        with container.db.read() as session:  # the fact is already committed as published
            unpublished = session.scalar(select(func.count()).select_from(OutboxMessage)
                                         .where(OutboxMessage.published_at.is_(None)))
        received.append((payload, int(unpublished or 0)))

    container.bus.subscribe(CONTACT_CHANGED, subscriber)
    with container.db.transaction() as session:
        publish_many(session, [contact_changed(ws, 42, fields=["email"])], now=container.clock.now())

    worker = Worker(container)
    assert worker.relay_outbox() == 1
    worker.run_due_jobs()

    fact = {"contact_id": 42, "fields": ["email"], "events": [], "reason": ""}
    assert received == [({"workspace_id": ws, **fact}, 0)]
    assert refreshed == [fact]
    assert worker.relay_outbox() == 0


def test_stopping_gives_the_rest_of_the_batch_back_to_the_queue(container: Container) -> None:
    worker = Worker(container)
    ran: list[int] = []

    def stop_after_this(job_: ClaimedJob) -> None:
        ran.append(job_.id)
        worker.stop()

    register(container, "test.stop", stop_after_this)
    ids = [make_job(container, "test.stop") for _ in range(3)]

    assert worker.run_due_jobs() == 3

    assert ran == [ids[0]]
    assert [(job(container, i).status, job(container, i).attempts) for i in ids] == [
        ("done", 1), ("queued", 0), ("queued", 0)]


def test_a_running_worker_renews_the_lease_of_a_long_job(container: Container, clock: FrozenClock) -> None:
    container.queue.lease = dt.timedelta(seconds=0.3)  # the keeper renews every 0.1 s
    started, release = threading.Event(), threading.Event()

    def long_job(_job: ClaimedJob) -> None:
        started.set()
        release.wait(10)

    register(container, "test.long", long_job)
    job_id = make_job(container, "test.long")
    worker = Worker(container)
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    try:
        assert started.wait(10)
        clock.advance(hours=1)
        deadline = time.monotonic() + 5
        while job(container, job_id).lease_until != clock.now() + container.queue.lease:
            assert time.monotonic() < deadline, "the lease was not renewed"
            time.sleep(0.02)
        assert container.queue.claim("other", clock.now()) == []
    finally:
        release.set()
        worker.stop()
        thread.join(10)
    assert not thread.is_alive()
    assert job(container, job_id).status == "done"


def test_a_worker_beats_while_it_runs_and_signs_off_when_stopped(container: Container) -> None:
    worker = Worker(container)
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    deadline = time.monotonic() + 10
    while not _heartbeats(container):
        assert time.monotonic() < deadline
        time.sleep(0.02)

    assert _heartbeats(container) == [worker.id]
    worker.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert _heartbeats(container) == []


def _heartbeats(container: Container) -> list[str]:
    with container.db.read() as session:
        return list(session.scalars(select(WorkerHeartbeat.id)))


def test_maintenance_forgets_old_facts_keys_and_workers(container: Container, clock: FrozenClock,
                                                        actors: Actors) -> None:
    gone = Worker(container)
    gone.heartbeat(force=True)
    with container.db.transaction() as session:
        publish_many(session, [{"topic": "t", "payload": {}}], now=clock.now())
    container.outbox.relay(clock.now())
    container.idempotency.begin(actors.alice.workspace_id, "k", "h", clock.now())
    clock.advance(days=8)
    alive = Worker(container)
    alive.heartbeat(force=True)

    alive.maintain(force=True)

    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert container.idempotency.prune(clock.now()) == 0
    assert _heartbeats(container) == [alive.id]


@pytest.mark.parametrize("hold", [-1, 61, "soon"])
def test_a_probe_with_a_bad_hold_fails_permanently(container: Container, hold: object) -> None:
    job_id = make_job(container, "system.probe", {"hold_seconds": hold})

    Worker(container).run_once()

    info = job(container, job_id)
    assert (info.status, info.last_error) == ("failed", "hold_seconds must be a number from 0 to 60")
