from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from cadenza.auth.models import Workspace
from cadenza.bootstrap import Container
from cadenza.storage import Database
from cadenza.storage.database import SQLITE_CACHE_KIB, NestedTransactionError, build_engine


def test_a_unit_of_work_refuses_to_open_inside_another(container: Container) -> None:
    with container.db.transaction(), pytest.raises(NestedTransactionError), container.db.transaction():
        pass


def test_an_error_rolls_back_everything_in_the_unit_of_work(container: Container) -> None:
    now = container.clock.now()
    with pytest.raises(RuntimeError), container.db.transaction() as session:
        session.add(Workspace(name="Half", slug="half", created_at=now))
        session.flush()
        raise RuntimeError("boom")
    with container.db.read() as session:
        assert session.scalar(select(Workspace).where(Workspace.slug == "half")) is None


def test_times_come_back_as_utc_aware(container: Container) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        session.add(Workspace(name="T", slug="t", created_at=now))
    with container.db.read() as session:
        stored = session.scalar(select(Workspace.created_at).where(Workspace.slug == "t"))
    assert stored == now
    assert stored is not None and stored.utcoffset() is not None


def test_rows_loaded_in_a_read_stay_readable_after_it(container: Container) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        session.add(Workspace(name="Kept", slug="kept", created_at=now))
    with container.db.read() as session:
        workspace = session.scalar(select(Workspace).where(Workspace.slug == "kept"))

    assert workspace is not None and (workspace.name, workspace.created_at) == ("Kept", now)


def test_two_writers_at_once_both_commit(container: Container) -> None:
    """SQLite: the second writer's BEGIN IMMEDIATE waits (busy timeout) instead of failing 'database is locked'."""
    now = container.clock.now()
    both_open = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(slug: str, hold: float) -> None:
        try:
            both_open.wait()
            with container.db.transaction() as session:
                session.add(Workspace(name=slug, slug=slug, created_at=now))
                session.flush()
                time.sleep(hold)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=("first", 0.3)), threading.Thread(target=write, args=("second", 0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    with container.db.read() as session:
        assert sorted(session.scalars(select(Workspace.slug))) == ["first", "second"]


def test_a_read_does_not_wait_for_an_open_writer(container: Container) -> None:
    now = container.clock.now()
    writing, done = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with container.db.transaction() as session:
            session.add(Workspace(name="slow", slug="slow", created_at=now))
            session.flush()
            writing.set()
            done.wait(10)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert writing.wait(10)
        started = time.perf_counter()
        with container.db.read() as session:
            seen = list(session.scalars(select(Workspace.slug)))
        elapsed = time.perf_counter() - started
    finally:
        done.set()
        thread.join(10)

    assert seen == []  # the uncommitted row is not visible
    assert elapsed < 2.0


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(container: Container) -> None:
    if container.db.is_postgres:
        pytest.skip("SQLite only")
    with container.db.engine.connect() as connection:
        pragmas = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                   for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")}

    assert pragmas == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1, "synchronous": 1}


def test_the_connection_pool_is_sized_from_the_settings(database_url: str) -> None:
    db = Database.from_url(database_url, pool_size=3, max_overflow=2)
    try:
        pool = db.engine.pool
        assert (pool.size(), pool._max_overflow) == (3, 2)  # type: ignore[attr-defined]
    finally:
        db.dispose()


def test_sqlite_wal_is_copied_back_by_the_background_checkpointer(tmp_path: Path) -> None:
    """Commits stay below the automatic checkpoint; the checkpointer thread still moves the pages home."""
    database = Database(build_engine(f"sqlite:///{tmp_path / 'wal.db'}"))
    try:
        with database.transaction() as session:
            session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        main_file = tmp_path / "wal.db"
        size_before = main_file.stat().st_size
        for _ in range(20):
            with database.transaction() as session:
                session.execute(text("INSERT INTO notes (body) VALUES (:body)"), [{"body": "x" * 2000}] * 20)

        deadline = time.monotonic() + 10
        while main_file.stat().st_size <= size_before and time.monotonic() < deadline:
            time.sleep(0.1)

        assert main_file.stat().st_size > size_before + 400 * 2000 * 0.9
    finally:
        database.dispose()


def test_a_pooled_connection_killed_while_idle_is_replaced_without_failing_a_request(container: Container) -> None:
    if not container.db.is_postgres:
        pytest.skip("SQLite has no server connection to lose")
    db = Database.from_url(container.settings.database_url, pool_size=1, max_overflow=0)
    try:
        with db.engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with container.db.engine.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        with db.engine.connect() as connection:  # pinged on checkout, found dead, replaced
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        db.dispose()


def test_the_operator_is_warned_when_postgresql_autovacuum_is_off(container: Container) -> None:
    warnings = container.db.operator_warnings()
    if not container.db.is_postgres:
        assert warnings == []
        return
    with container.db.engine.connect() as connection:
        autovacuum = connection.exec_driver_sql("SHOW autovacuum").scalar()
    assert any("autovacuum is off" in warning for warning in warnings) == (autovacuum != "on")


def test_sqlite_connections_keep_a_large_page_cache_and_are_reused_newest_first(tmp_path: Path) -> None:
    database = Database(build_engine(f"sqlite:///{tmp_path / 'cache.db'}"))
    try:
        with database.engine.connect() as first, database.engine.connect() as second:
            first_id = id(first.connection.dbapi_connection)
            assert id(second.connection.dbapi_connection) != first_id
            assert first.exec_driver_sql("PRAGMA cache_size").scalar() == -SQLITE_CACHE_KIB
        with database.engine.connect() as again:  # the one returned last: its cache is the warm one
            assert id(again.connection.dbapi_connection) == first_id
    finally:
        database.dispose()
