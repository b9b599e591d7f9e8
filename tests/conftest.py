"""Shared fixtures: one migrated database per test run (SQLite or PostgreSQL), emptied between tests.

Set CADENZA_TEST_DATABASE_URL to run the suite on PostgreSQL; each pytest-xdist worker gets its own
database, created and dropped here, so parallel runs never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from cadenza.auth import Principal, Role, Scope
from cadenza.auth.secrets import set_hashing_cost
from cadenza.bootstrap import Container, build_container
from cadenza.config import Settings
from cadenza.core.clock import FrozenClock
from cadenza.schema import schema_metadata, upgrade
from cadenza.storage import Database
from cadenza.storage.database import build_engine, normalise_url

POSTGRES_URL = os.environ.get("CADENZA_TEST_DATABASE_URL")

set_hashing_cost(time_cost=1, memory_cost=1024)  # argon2 at production cost takes ~0.3 s a password


def _postgres_database(base_url: str, name: str) -> str:
    admin = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return normalise_url(base_url).rsplit("/", 1)[0] + f"/{name}"


def _drop_postgres_database(base_url: str, name: str) -> None:
    admin = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    """A freshly migrated database for this test process."""
    if POSTGRES_URL:
        name = f"cadenza_test_{worker_id}_{uuid.uuid4().hex[:8]}"
        url = _postgres_database(POSTGRES_URL, name)
        upgrade(url)
        yield url
        _drop_postgres_database(POSTGRES_URL, name)
    else:
        path = tmp_path_factory.mktemp("db") / "cadenza.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def database(database_url: str) -> Iterator[Database]:
    db = Database(build_engine(database_url))
    yield db
    db.dispose()


def _empty_all_tables(db: Database) -> None:
    tables = [t for t in reversed(schema_metadata().sorted_tables)]
    with db.engine.begin() as connection:
        if db.is_postgres:
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret-key", data_dir=tmp_path,
                    base_url="http://testserver")


@pytest.fixture
def container(database: Database, settings: Settings, clock: FrozenClock) -> Iterator[Container]:
    _empty_all_tables(database)
    yield build_container(settings, clock=clock, db=database)


@pytest.fixture
def app(container: Container):  # type: ignore[no-untyped-def]
    from cadenza.web import create_server_app

    return create_server_app(container)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class Actor:
    """A standing test actor: a user principal plus an API key of each scope in their workspace."""

    name: str
    email: str
    password: str
    principal: Principal
    keys: dict[Scope, str]

    @property
    def workspace_id(self) -> int:
        return self.principal.workspace_id

    def headers(self, scope: Scope = Scope.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}


@dataclass
class Actors:
    alice: Actor  # owner of workspace A
    bob: Actor  # marketer in workspace A
    charlie: Actor  # owner of workspace B


def _keys_for(container: Container, owner: Principal) -> dict[Scope, str]:
    return {scope: container.access.create_api_key(owner, f"{scope} key", scope)[1] for scope in Scope}


@pytest.fixture
def actors(container: Container) -> Actors:
    password = "correct horse battery"
    alice = container.access.create_workspace("Acme", "alice@acme.test", password, "Alice")
    bob_user = container.access.create_user(alice, "bob@acme.test", password, Role.MARKETER, "Bob")
    bob = Principal.for_user(alice.workspace_id, bob_user.id, bob_user.email, Role.MARKETER)
    charlie = container.access.create_workspace("Globex", "charlie@globex.test", password, "Charlie")
    alice_keys = _keys_for(container, alice)
    return Actors(
        alice=Actor("alice", "alice@acme.test", password, alice, alice_keys),
        bob=Actor("bob", "bob@acme.test", password, bob, {Scope.WRITE: alice_keys[Scope.WRITE]}),
        charlie=Actor("charlie", "charlie@globex.test", password, charlie, _keys_for(container, charlie)),
    )


@pytest.fixture
def plans(container: Container) -> Iterator[dict[str, str]]:
    """SQLite's query plan of each SELECT/UPDATE run while the test uses it (statement → plan): SQLite's planner has
    no statistics to go on, so a lookup against a growing table can end up walking it."""
    if container.db.is_postgres:
        pytest.skip("PostgreSQL plans from statistics; this guards SQLite's rule-based planner")
    found: dict[str, str] = {}

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.startswith(("SELECT", "UPDATE", "WITH")):
            first = parameters[0] if executemany else parameters
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, first).fetchall()
            found[statement] = " | ".join(row[3] for row in rows)

    event.listen(container.db.engine, "before_cursor_execute", explain)
    yield found
    event.remove(container.db.engine, "before_cursor_execute", explain)


def query_plan(plans: dict[str, str], start: str, contains: str) -> str:
    """The plan of the first recorded statement that starts with `start` and mentions `contains`."""
    matching = [plan for statement, plan in plans.items() if statement.startswith(start) and contains in statement]
    assert matching, f"no statement starting {start!r} mentioning {contains!r} ran"
    return matching[0]
