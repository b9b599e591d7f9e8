"""An idle worker with a long poll starts a newly enqueued job at once; without wake-ups it still polls.

The worker runs in a thread on the wall clock here (wake-ups are about real waiting). On PostgreSQL the job
is enqueued through a second engine, so only NOTIFY can reach the worker (the in-process signal is per
engine); on SQLite the in-process signal does it, as in `cadenza serve`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from cadenza.bootstrap import Container
from cadenza.storage import Database
from cadenza.storage.database import build_engine
from cadenza.storage.queue import ClaimedJob, enqueue
from cadenza.storage.wakeups import LISTENER_APPLICATION_NAME, NotificationListener
from cadenza.workers.loop import Worker

LONG_POLL = 30.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@contextmanager
def running_worker(container: Container, *, poll: float, wakeups: bool = True) -> Iterator[Worker]:
    container.settings = container.settings.model_copy(update={"worker_poll_seconds": poll,
                                                               "worker_wakeups": wakeups})
    worker = Worker(container)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    try:
        wait_for(lambda: worker.wakeups is not None or not wakeups, "the worker to start")
        if worker.wakeups is not None and worker.wakeups.listener is not None:
            wait_for(worker.wakeups.listener.connected.is_set, "the LISTEN connection")
        time.sleep(0.3)  # the first pass (heartbeat, relay, an empty claim) ends well within this: it waits
        yield worker
    finally:
        worker.stop()
        thread.join(10)
        assert not thread.is_alive()


@pytest.fixture
def started() -> dict[int, float]:
    return {}


@pytest.fixture
def recorder(container: Container, started: dict[int, float]) -> None:
    def record(job: ClaimedJob) -> None:
        started[job.id] = time.monotonic()

    container.jobs.register("test.timed", record)


@pytest.fixture
def other_process(container: Container) -> Iterator[Database]:
    """Where jobs are enqueued from: another engine on PostgreSQL (another process, as far as wake-ups can
    tell), the worker's own on SQLite (one process)."""
    if not container.db.is_postgres:
        yield container.db
        return
    db = Database(build_engine(container.db.engine.url.render_as_string(hide_password=False)))
    yield db
    db.dispose()


def enqueue_now(container: Container, db: Database) -> tuple[int, float]:
    with db.transaction() as session:
        job_id = enqueue(session, "test.timed", {}, now=container.clock.now()).id
    return job_id, time.monotonic()


@pytest.mark.usefixtures("recorder")
def test_a_job_enqueued_while_the_worker_waits_on_a_30_s_poll_starts_within_a_second(
        container: Container, other_process: Database, started: dict[int, float]) -> None:
    with running_worker(container, poll=LONG_POLL) as worker:
        for _ in range(3):  # and again after each wake-up
            job_id, enqueued_at = enqueue_now(container, other_process)
            wait_for(lambda job_id=job_id: job_id in started,  # type: ignore[misc]
                     "the job to start", timeout=LONG_POLL / 2)
            assert started[job_id] - enqueued_at < 1.0
        assert worker.waits["woken"] >= 1  # (a wake-up during a pass ends the next wait: not one per job)
        assert worker.waits["polled"] == 0


@pytest.mark.usefixtures("recorder")
def test_without_wake_ups_the_poll_still_runs_the_job(container: Container, other_process: Database,
                                                       started: dict[int, float]) -> None:
    with running_worker(container, poll=0.2, wakeups=False) as worker:
        job_id, _ = enqueue_now(container, other_process)
        wait_for(lambda: job_id in started, "the job to start")
        assert worker.wakeups is None
        assert worker.waits["woken"] == 0


def test_stopping_a_waiting_worker_does_not_wait_for_the_poll(container: Container) -> None:
    stopped_at: list[float] = []
    with running_worker(container, poll=LONG_POLL):
        stopped_at.append(time.monotonic())
    assert time.monotonic() - stopped_at[0] < 5.0


@pytest.mark.usefixtures("recorder")
def test_a_listener_that_cannot_connect_leaves_the_worker_polling(
        container: Container, other_process: Database, started: dict[int, float],
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    if not container.db.is_postgres:
        pytest.skip("the LISTEN connection is PostgreSQL's")
    attempts: list[int] = []

    def refused(_self: NotificationListener) -> None:
        attempts.append(1)
        raise OSError("connection refused")

    monkeypatch.setattr(NotificationListener, "_listen", refused)
    monkeypatch.setattr(NotificationListener, "RETRY_FIRST_SECONDS", 0.05)
    container.settings = container.settings.model_copy(update={"worker_poll_seconds": 0.2})
    worker = Worker(container)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    try:
        job_id, _ = enqueue_now(container, other_process)
        wait_for(lambda: job_id in started, "the job to start by polling")
        wait_for(lambda: len(attempts) >= 3, "reconnection attempts with backoff")
        assert thread.is_alive()
    finally:
        worker.stop()
        thread.join(10)
    assert "listening again in" in caplog.text


@pytest.mark.usefixtures("recorder")
def test_a_lost_listen_connection_is_reopened_and_wakes_the_worker_again(
        container: Container, other_process: Database, started: dict[int, float]) -> None:
    if not container.db.is_postgres:
        pytest.skip("the LISTEN connection is PostgreSQL's")
    with running_worker(container, poll=LONG_POLL) as worker:
        assert worker.wakeups is not None and worker.wakeups.listener is not None
        listener = worker.wakeups.listener
        with other_process.engine.connect() as connection:
            killed = connection.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"),
                {"name": LISTENER_APPLICATION_NAME}).scalar()
        assert killed == 1
        wait_for(lambda: listener.connections == 2, "the listener to reconnect")

        job_id, enqueued_at = enqueue_now(container, other_process)
        wait_for(lambda: job_id in started, "the job to start", timeout=LONG_POLL / 2)
        assert started[job_id] - enqueued_at < 1.0
        assert worker.waits["polled"] == 0
