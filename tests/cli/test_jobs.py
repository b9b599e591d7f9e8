"""`cadenza jobs list|retry|cancel|probe`: the operator sees and controls every job."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from cadenza.auth.models import AuditEntry
from cadenza.bootstrap import Container, build_container
from cadenza.cli.common import console
from cadenza.config import Settings
from cadenza.workers.loop import Worker
from tests.cli.operator import cli_env, run_cli
from tests.conftest import Actors
from tests.storage.factories import job, make_job


def failed_job(container: Container, workspace_id: int | None, error: str) -> int:
    job_id = make_job(container, "email.send", workspace_id=workspace_id, max_attempts=1)
    (claimed,) = [j for j in container.queue.claim("w1", container.clock.now()) if j.id == job_id]
    container.queue.fail(claimed, error, container.clock.now())
    return job_id


def test_list_shows_failed_jobs_of_every_workspace_as_json(container: Container, actors: Actors,
                                                           database_url: str, tmp_path: Path) -> None:
    system = failed_job(container, None, "disk full")
    alice = failed_job(container, actors.alice.workspace_id, "SMTP 451")
    make_job(container, workspace_id=actors.charlie.workspace_id)

    result = run_cli(["jobs", "list", "--status", "failed", "--json"], cli_env(database_url, tmp_path))

    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [(j["id"], j["workspace_id"], j["status"], j["last_error"]) for j in listed["data"]] == [
        (alice, actors.alice.workspace_id, "failed", "SMTP 451"), (system, None, "failed", "disk full")]
    assert listed["data"][0]["finished_at"] == "2026-01-01T12:00:00+00:00"
    assert listed["next_cursor"] is None


def test_list_prints_a_table(container: Container, database_url: str, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    # The console reads COLUMNS when cadenza.cli is first imported, as a real process does at start.
    monkeypatch.setattr(console, "width", 200)
    failed_job(container, None, "disk full")

    result = run_cli(["jobs", "list"], cli_env(database_url, tmp_path, COLUMNS="200"))

    assert result.exit_code == 0
    assert "email.send" in result.stdout and "disk full" in result.stdout


def test_retry_queues_the_job_again_and_audits_the_operator(container: Container, actors: Actors,
                                                            database_url: str, tmp_path: Path) -> None:
    job_id = failed_job(container, actors.alice.workspace_id, "SMTP 451")

    result = run_cli(["jobs", "retry", str(job_id)], cli_env(database_url, tmp_path))

    assert result.exit_code == 0, result.output
    assert f"Job {job_id} (email.send) is queued" in result.stdout
    assert (job(container, job_id).status, job(container, job_id).attempts) == ("queued", 0)
    with container.db.read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "job.retried"))
    assert entry is not None
    assert (entry.workspace_id, entry.actor_type, entry.actor_label, entry.target_id) == (
        actors.alice.workspace_id, "system", "cli", str(job_id))


def test_cancel_stops_a_queued_job(container: Container, database_url: str, tmp_path: Path) -> None:
    job_id = make_job(container)

    result = run_cli(["jobs", "cancel", str(job_id)], cli_env(database_url, tmp_path))

    assert result.exit_code == 0
    assert job(container, job_id).status == "cancelled"


def test_an_unknown_job_exits_2_and_a_refused_change_exits_1(container: Container, database_url: str,
                                                             tmp_path: Path) -> None:
    job_id = make_job(container)
    env = cli_env(database_url, tmp_path)

    unknown = run_cli(["jobs", "retry", str(job_id + 100)], env)
    refused = run_cli(["jobs", "retry", str(job_id)], env)
    bad_status = run_cli(["jobs", "list", "--status", "exploded"], env)

    assert (unknown.exit_code, refused.exit_code, bad_status.exit_code) == (2, 1, 2)
    assert f"There is no job {job_id + 100}." in unknown.stderr
    assert "only failed or cancelled jobs can be retried" in " ".join(refused.stderr.split())
    assert job(container, job_id).status == "queued"


def test_probe_reports_which_workers_ran_the_probes(container: Container, database_url: str,
                                                    tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, secret_key="s", data_dir=tmp_path, worker_poll_seconds=0.05)
    real_time = build_container(settings, db=container.db)  # the CLI enqueues at the wall clock's now
    worker = Worker(real_time)
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    try:
        result = run_cli(["jobs", "probe", "--count", "5", "--wait", "30", "--json"], cli_env(database_url, tmp_path))
    finally:
        worker.stop()
        thread.join(10)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"jobs": 5, "done": 5, "runs_by_worker": {worker.id: 5},
                                         "jobs_run_more_than_once": 0}


def test_probe_fails_when_no_worker_runs_the_probes(container: Container, database_url: str,
                                                    tmp_path: Path) -> None:
    result = run_cli(["jobs", "probe", "--count", "3", "--wait", "0"], cli_env(database_url, tmp_path))

    assert result.exit_code == 1
    assert "0 of 3 probes done" in result.stdout
