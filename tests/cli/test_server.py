"""`cadenza serve` and `cadenza worker`: refuse an unmigrated database, run (or not) the worker, stop cleanly."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select

from cadenza.bootstrap import Container
from cadenza.schema import alembic_config, upgrade
from cadenza.storage.models import WorkerHeartbeat
from cadenza.workers.loop import Worker
from tests.cli.operator import cli_env, run_cli, spawn


@pytest.fixture(autouse=True)
def settled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`serve` and `worker` settle the heap of their process; run in-process here, they must leave the test
    process's collector as it is (`core.heap` has its own test, in a process of its own)."""
    calls: list[str] = []
    monkeypatch.setattr("cadenza.cli.server.settle_server_heap", lambda: calls.append("settled"))
    return calls


def test_serve_refuses_an_unmigrated_database_naming_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **_options: served.append(app))

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()

    result = run_cli(["serve"], cli_env(url, tmp_path))

    assert result.exit_code == 2
    assert " ".join(result.stderr.split()) == (
        f"The database is not migrated (at an empty schema, code expects {head}). Run: cadenza db upgrade")
    assert served == []


@pytest.mark.slow
def test_the_serve_process_exits_2_on_an_unmigrated_database(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)

    process = spawn(["serve", "--port", "0"], env)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 2
    assert "not migrated" in stderr and "cadenza db upgrade" in stderr
    assert "Uvicorn running" not in stdout + stderr


def test_worker_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = run_cli(["worker"], cli_env(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path))

    assert result.exit_code == 2
    assert "cadenza db upgrade" in result.stderr


class FakeServer:
    """Stands in for uvicorn.run: notes which threads were running while the server was up."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def run(self, app: object, **_options: object) -> None:
        self.threads = [thread.name for thread in threading.enumerate()]


def test_serve_runs_the_worker_in_a_thread_and_stops_it_cleanly(
        container: Container, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        settled: list[str]) -> None:
    server = FakeServer()
    seen_running: list[bool] = []

    def fake_run(app: object, **options: object) -> None:
        server.run(app, **options)
        seen_running.append(any(t.name == "cadenza-worker" and t.is_alive() for t in threading.enumerate()))

    monkeypatch.setattr("uvicorn.run", fake_run)
    stopped: list[Worker] = []
    monkeypatch.setattr(Worker, "stop", lambda self: (stopped.append(self), self._stop.set()))

    result = run_cli(["serve"], cli_env(database_url, tmp_path))

    assert result.exit_code == 0, result.output
    assert settled == ["settled"]
    assert seen_running == [True]
    assert len(stopped) == 1
    assert not any(t.name == "cadenza-worker" for t in threading.enumerate())  # joined, not abandoned
    with container.db.read() as session:  # the stopped worker signed off
        assert list(session.scalars(select(WorkerHeartbeat.id))) == []


def test_serve_with_no_worker_starts_no_worker_thread(container: Container, database_url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeServer()
    monkeypatch.setattr("uvicorn.run", server.run)

    result = run_cli(["serve", "--no-worker"], cli_env(database_url, tmp_path))

    assert result.exit_code == 0, result.output
    assert server.threads and "cadenza-worker" not in server.threads


def test_serve_says_what_to_fix_in_the_database_servers_settings(
        container: Container, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("uvicorn.run", FakeServer().run)
    monkeypatch.setattr("cadenza.storage.database.Database.operator_warnings",
                        lambda self: ["PostgreSQL's autovacuum is off."])

    result = run_cli(["serve", "--no-worker"], cli_env(database_url, tmp_path))

    assert result.exit_code == 0, result.output
    assert "Warning: PostgreSQL's autovacuum is off." in " ".join(result.stderr.split())


def test_worker_on_sqlite_warns_that_one_worker_is_the_supported_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      settled: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    upgrade(url)
    ran: list[str] = []
    monkeypatch.setattr(Worker, "run_forever", lambda self: ran.append(self.id))

    result = run_cli(["worker"], cli_env(url, tmp_path))

    assert result.exit_code == 0
    assert len(ran) == 1
    assert settled == ["settled"]
    assert "on SQLite run one worker in all" in " ".join(result.stderr.split())


def test_worker_on_postgres_does_not_warn(container: Container, database_url: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    if not container.db.is_postgres:
        pytest.skip("PostgreSQL only")
    monkeypatch.setattr(Worker, "run_forever", lambda self: None)

    result = run_cli(["worker"], cli_env(database_url, tmp_path))

    assert result.exit_code == 0
    assert "one worker in all" not in " ".join(result.stderr.split())
