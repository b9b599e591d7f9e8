"""What the benchmarks share: the machine's baselines and a scratch PostgreSQL database."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from types import ModuleType

from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from cadenza.storage.database import normalise_url  # noqa: E402


def load_baselines() -> ModuleType:
    """`../shared/bench/baselines.py` beside the repository (or beside a clone of it)."""
    for candidate in (REPO.parent / "shared" / "bench", Path("../shared/bench").resolve()):
        if (candidate / "baselines.py").exists():
            sys.path.insert(0, str(candidate))
            import baselines

            return baselines
    raise SystemExit("baselines.py not found beside the repository (../shared/bench)")


def insert_baseline(postgres: bool) -> tuple[str, float | None]:
    """The raw bulk-insert limit of the database measured now (its name, its rows/s): what our figures are divided
    by. PostgreSQL's is measured against CADENZA_TEST_DATABASE_URL's server (the local one by default)."""
    baselines = load_baselines()
    if postgres:
        return "postgres_copy_rows_per_s", baselines.postgres_copy()
    return "sqlite_insert_rows_per_s", baselines.sqlite_insert()


def create_postgres_database(base_url: str) -> tuple[str, str]:
    """A new, empty database on the server of `base_url`: returns (its URL, its name)."""
    name = f"cadenza_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return normalise_url(base_url).rsplit("/", 1)[0] + f"/{name}", name


def drop_postgres_database(base_url: str, name: str) -> None:
    admin = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
