"""`cadenza db upgrade` migrates (and does nothing the second time); `cadenza db status` tells."""

from __future__ import annotations

from pathlib import Path

from cadenza.schema import migration_status
from cadenza.storage.database import build_engine
from tests.cli.operator import cli_env, run_cli


def _status(url: str) -> tuple[str | None, str | None]:
    engine = build_engine(url)
    try:
        status = migration_status(engine)
    finally:
        engine.dispose()
    return status.current, status.head


def test_upgrade_migrates_an_empty_database_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    env = cli_env(url, tmp_path)
    _current, head = _status(url)

    first = run_cli(["db", "upgrade"], env)
    second = run_cli(["db", "upgrade"], env)

    assert first.exit_code == 0
    assert first.stdout.strip() == f"Database migrated from an empty schema to {head}."
    assert second.exit_code == 0
    assert second.stdout.strip() == f"Database already at the latest schema ({head})."
    assert _status(url) == (head, head)


def test_status_tells_whether_the_database_needs_an_upgrade(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'cadenza.db'}", tmp_path)

    before = run_cli(["db", "status"], env)
    run_cli(["db", "upgrade"], env)
    after = run_cli(["db", "status"], env)

    assert before.exit_code == 1
    assert "Database at an empty schema" in before.stdout and "cadenza db upgrade" in before.stdout
    assert after.exit_code == 0
    assert "Run:" not in after.stdout


def test_an_unreachable_database_is_reported_with_exit_code_2(tmp_path: Path) -> None:
    result = run_cli(["db", "upgrade"], cli_env(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", tmp_path))

    assert result.exit_code == 2
    assert "Cannot reach the database" in result.stderr
