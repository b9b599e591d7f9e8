"""Real `cadenza worker` processes: scale-out on PostgreSQL, one worker on SQLite, and a worker killed with
SIGKILL in the middle of a batch. Built-in `system.probe` jobs record every run, so a job run twice or
never is seen."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from cadenza.bootstrap import Container
from cadenza.core.clock import SystemClock
from cadenza.storage.models import Job, ProbeRun, WorkerHeartbeat
from cadenza.storage.probe import Probe
from tests.cli.operator import cli_env, spawn

pytestmark = pytest.mark.slow

WORKER_ENV = {"CADENZA_WORKER_POLL_SECONDS": "0.1", "CADENZA_WORKER_BATCH_SIZE": "5"}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Fleet:
    """Worker processes on the test database, stopped (or killed) at the end of the test."""

    def __init__(self, container: Container, database_url: str, tmp_path: Path, **env: str) -> None:
        self.container = container
        self.env = cli_env(database_url, tmp_path, **{**WORKER_ENV, **env})
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, count: int = 1) -> None:
        before = len(self.heartbeats())
        for _ in range(count):
            log = self.tmp_path / f"worker-{len(self.processes)}.log"
            self.processes.append(spawn(["worker"], self.env, log=log))
        wait_for(lambda: len(self.heartbeats()) >= before + count, f"{count} worker heartbeats")

    def heartbeats(self) -> list[str]:
        with self.container.db.read() as session:
            return list(session.scalars(select(WorkerHeartbeat.id)))

    def log(self, index: int) -> str:
        return (self.tmp_path / f"worker-{index}.log").read_text()

    def stop(self) -> list[int | None]:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout=30))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(None)
        return codes


@pytest.fixture
def fleet(container: Container, database_url: str, tmp_path: Path) -> Iterator[Fleet]:
    workers = Fleet(container, database_url, tmp_path)
    yield workers
    for process in workers.processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def runs_per_job(container: Container, job_ids: list[int]) -> dict[int, list[str]]:
    with container.db.read() as session:
        rows = session.execute(select(ProbeRun.job_id, ProbeRun.worker_id).where(ProbeRun.job_id.in_(job_ids))
                               .order_by(ProbeRun.id)).all()
    runs: dict[int, list[str]] = {job_id: [] for job_id in job_ids}
    for job_id, worker_id in rows:
        runs[job_id].append(worker_id)
    return runs


def test_three_worker_processes_run_300_jobs_exactly_once_on_postgres(container: Container, fleet: Fleet) -> None:
    if not container.db.is_postgres:
        pytest.skip("scale-out needs PostgreSQL; on SQLite one worker is the supported mode")
    fleet.start(3)
    probes = Probe(container.db, SystemClock())  # the workers run on the wall clock

    ids = probes.enqueue_probes(300, hold_seconds=0.02)
    wait_for(lambda: probes.report(ids).done == 300, "300 probes done")
    codes = fleet.stop()

    runs = runs_per_job(container, ids)
    assert [job_id for job_id, workers in runs.items() if len(workers) != 1] == []
    per_worker = Counter(workers[0] for workers in runs.values())
    assert sum(per_worker.values()) == 300
    assert len(per_worker) == 3, per_worker  # all three claimed work side by side
    with container.db.read() as session:
        assert set(session.scalars(select(Job.attempts).where(Job.id.in_(ids)))) == {1}
    assert codes == [0, 0, 0]  # SIGTERM stops a worker cleanly…
    assert fleet.heartbeats() == []  # …and it signs off


def test_one_worker_process_runs_300_jobs_exactly_once_on_sqlite(container: Container, fleet: Fleet) -> None:
    if container.db.is_postgres:
        pytest.skip("SQLite only")
    fleet.start(1)
    probes = Probe(container.db, SystemClock())

    ids = probes.enqueue_probes(300)
    wait_for(lambda: probes.report(ids).done == 300, "300 probes done")
    codes = fleet.stop()

    report = probes.report(ids)
    assert (report.done, report.jobs_run_more_than_once, sum(report.runs_by_worker.values())) == (300, 0, 300)
    assert codes == [0]
    assert "on SQLite run one worker in all" in " ".join(fleet.log(0).split())


def test_a_killed_workers_batch_is_finished_by_another_and_nothing_is_lost(container: Container,
                                                                         database_url: str, tmp_path: Path) -> None:
    fleet = Fleet(container, database_url, tmp_path, CADENZA_JOB_LEASE_SECONDS="2")
    try:
        _kill_mid_batch_and_recover(container, fleet)
    finally:
        for process in fleet.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


def _kill_mid_batch_and_recover(container: Container, fleet: Fleet) -> None:
    probes = Probe(container.db, SystemClock())
    ids = probes.enqueue_probes(5, hold_seconds=30)  # the first one keeps its worker busy
    fleet.start(1)
    wait_for(lambda: sum(len(r) for r in runs_per_job(container, ids).values()) == 1, "the first probe to run")
    with container.db.read() as session:
        claims = dict(session.execute(select(Job.id, Job.claimed_by).where(Job.id.in_(ids))).all())
    (killed,) = set(claims.values())  # the whole batch of 5 is held by the one worker
    assert killed is not None

    fleet.processes[0].send_signal(signal.SIGKILL)
    fleet.processes[0].wait(10)
    with container.db.transaction() as session:  # let the re-runs be quick
        session.execute(update(Job).where(Job.id.in_(ids)).values(payload={"hold_seconds": 0}))
    fleet.start(1)
    wait_for(lambda: probes.report(ids).done == 5, "the killed worker's batch to be finished")
    fleet.stop()

    runs = runs_per_job(container, ids)
    (survivor,) = {worker for workers in runs.values() for worker in workers} - {killed}
    # At least once: the probe that ran when its worker died ran again; the four it never started ran once.
    assert runs == {ids[0]: [killed, survivor], **{job_id: [survivor] for job_id in ids[1:]}}
    with container.db.read() as session:
        assert dict(session.execute(select(Job.id, Job.status).where(Job.id.in_(ids))).all()) == {
            job_id: "done" for job_id in ids}


def test_a_worker_process_on_a_30_s_poll_is_woken_by_notify(container: Container, database_url: str,
                                                            tmp_path: Path) -> None:
    """PostgreSQL: the probes are enqueued by this process; only NOTIFY can wake the worker before its poll."""
    if not container.db.is_postgres:
        pytest.skip("a separate worker process wakes on NOTIFY, which is PostgreSQL's")
    fleet = Fleet(container, database_url, tmp_path, CADENZA_WORKER_POLL_SECONDS="30")
    try:
        fleet.start(1)
        time.sleep(1.0)  # its first pass is over: it waits on its 30 s poll
        probes = Probe(container.db, SystemClock())
        for _ in range(2):
            started = time.monotonic()
            ids = probes.enqueue_probes(1)
            wait_for(lambda ids=ids: probes.report(ids).done == 1, "the probe", timeout=20)  # type: ignore[misc]
            assert time.monotonic() - started < 2.0  # the claim, the run and this test's 0.1 s polling
        assert fleet.stop() == [0]
    finally:
        for process in fleet.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    log = fleet.log(0)
    assert "woken when a job is enqueued" in log and "job notifications: listening on 'cadenza_jobs'" in log
