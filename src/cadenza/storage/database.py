"""Engine construction and the unit of work.

A unit of work is one outermost transaction. It refuses to open inside another one, so a use case
can never be half-committed by a nested call (the habit Zulip's `atomic(durable=True)` enforces).

SQLite runs in WAL mode with a 30 s busy timeout. Writers begin IMMEDIATE (they take the write lock up
front, so two writers queue instead of failing with "database is locked" on a lock upgrade); reads begin
deferred and never wait on a writer. PostgreSQL connections come from a pool of `pool_size` plus
`max_overflow` per process: keep processes × (pool_size + max_overflow) under the server's
max_connections (100 by default), e.g. the defaults 5 + 10 leave room for six processes.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar("cadenza_in_transaction", default=False)


class NestedTransactionError(RuntimeError):
    pass


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "postgresql"


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class JSONText(str):
    """A JSON value already written out (say, kept as a client sent it): JSON columns store it as it is."""

    __slots__ = ()


def json_dumps(value: Any) -> str:
    """JSON columns are written with orjson (~10x the standard library); what it refuses (integers past
    64 bits) falls back to the standard library. `JSONText` is stored as it is."""
    if type(value) is JSONText:
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def json_loads(value: str | bytes) -> Any:
    """JSON columns are read with msgspec: as fast as orjson, and whole numbers past 64 bits stay exact."""
    return msgspec.json.decode(value)


WAL_AUTOCHECKPOINT_PAGES = 30_000
# Each SQLite connection's page cache (SQLite's default is 2 MiB). The index pages ingest and imports touch stay
# in it instead of being read again from the OS with a system call each: on the ingest path, 3.6x fewer pread
# calls. It fills only as pages are read, and connections are reused newest first (`pool_use_lifo`), so a few
# warm connections do the work and the others stay small.
SQLITE_CACHE_KIB = 32_768
STAGE = "stage"  # the schema name of every SQLite connection's scratch database (see `storage.bulk.load_stage`)


def build_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", json_loads)
    pooled = "poolclass" not in kwargs and ":memory:" not in url
    if pooled:
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=30)
    if url.startswith("sqlite"):
        if pooled:
            # The connection used last has the warmest cache: SQLite keeps a connection's cache across its
            # transactions as long as no other connection wrote in between, which a single writer makes likely.
            kwargs.setdefault("pool_use_lifo", True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, issue BEGIN so transactions behave the same as on PostgreSQL.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # WalCheckpointer keeps the WAL short from its own thread. A commit checkpoints only when the WAL
            # passes ~120 MB anyway (the safety net: SQLite's default, 4 MB, stalled ingest every few
            # batches), and a WAL left bigger than 64 MB by a burst is truncated back when it restarts.
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            cursor.execute("PRAGMA journal_size_limit=67108864")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # An empty in-memory schema a bulk writer can load rows into in one call (`storage.bulk.load_stage`).
            cursor.execute(f"ATTACH DATABASE ':memory:' AS {STAGE}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: no deadlock-prone lock upgrades between writers.
            # Read-only units (Database.read) begin deferred, so readers never wait on writers (WAL).
            if conn.get_execution_options().get("cadenza_readonly"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql"):
        kwargs.setdefault("connect_args", {"application_name": "cadenza"})
    return create_engine(url, **kwargs)


class WalCheckpointer:
    """Copies SQLite's write-ahead log back into the database from a thread of its own.

    A PASSIVE checkpoint never blocks writers or readers. While writes keep coming it runs every 250 ms;
    when a checkpoint finds nothing to copy it rests for half a second. A page that several commits changed
    in between is copied once, not once per commit (at full ingest speed ~25 MB of WAL build up in 250 ms, far
    below the automatic checkpoint's 30,000 pages; with the larger page cache, ingest took 13-23% less CPU per
    event than with a 50 ms period and SQLite's default cache). Commits then almost never reach the automatic
    checkpoint, which runs inside a writer's commit while it holds the write lock (measured on the ingest path:
    40 such stalls of ~55 ms in 2,000 batches with a 0.5 s period and a 40 MB threshold).
    """

    BUSY_INTERVAL_SECONDS = 0.25
    IDLE_INTERVAL_SECONDS = 0.5

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="cadenza-wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval, frames = self.IDLE_INTERVAL_SECONDS, -1
        while not self._stop.wait(interval):
            try:
                last, frames = frames, self.checkpoint()
            except Exception:  # the next tick tries again; SQLite's own autocheckpoint is the safety net
                self.failures += 1
                log.warning("WAL checkpoint failed (%d so far); retrying", self.failures, exc_info=self.failures == 1)
                last = frames
            interval = self.BUSY_INTERVAL_SECONDS if frames != last else self.IDLE_INTERVAL_SECONDS

    def checkpoint(self) -> int:
        """One PASSIVE checkpoint; the WAL's length in frames (it changes while writes come in)."""
        # The raw connection: no BEGIN (IMMEDIATE would take the write lock this is meant to spare).
        connection = self._engine.raw_connection()
        try:
            _busy, log_frames, _copied = connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            connection.close()
        return int(log_frames)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


class OpenTransaction:
    """An open unit of work (`Database.open_transaction`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def commit(self) -> None:
        """Commits; on failure nothing of it is kept. Either way the session is closed."""
        with self.session:
            self.session.commit()

    def rollback(self) -> None:
        with self.session:
            self.session.rollback()

    @contextmanager
    def kept_open(self) -> Iterator[Session]:
        """Its session, for part of the work: left open when the block ends, rolled back if it raises."""
        try:
            yield self.session
        except BaseException:
            self.rollback()
            raise

    @contextmanager
    def completed(self) -> Iterator[Session]:
        """Its session, for the rest of the work: committed when the block ends, rolled back if it raises."""
        with self.kept_open() as session:
            yield session
        self.commit()


class Database:
    """Holds the engine and hands out units of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._checkpointer: WalCheckpointer | None = None
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            self._checkpointer = WalCheckpointer(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False, autoflush=True)
        self._read_engine = engine.execution_options(cadenza_readonly=True)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False, autoflush=False)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Database:
        return cls(build_engine(url, **kwargs))

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """The one outermost transaction of a use case: commits on success, rolls back on error."""
        if _in_transaction.get():
            raise NestedTransactionError("a unit of work is already open; pass its session down instead")
        token = _in_transaction.set(True)
        try:
            with self._sessions() as session, session.begin():
                yield session
        finally:
            _in_transaction.reset(token)

    def open_transaction(self) -> OpenTransaction:
        """A unit of work whose end is left to the caller, possibly on another thread (a group commit's
        finisher): exactly one of `commit` or `rollback` ends it. Refused inside another unit of work."""
        if _in_transaction.get():
            raise NestedTransactionError("a unit of work is already open; pass its session down instead")
        session = self._sessions()
        session.begin()
        return OpenTransaction(session)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session for queries. It never commits. Rows loaded in it stay readable afterwards
        (detached with what was loaded; its closing rollback would otherwise expire them)."""
        with self._read_sessions() as session:
            try:
                yield session
            finally:
                session.expunge_all()
                session.rollback()

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A read-only Core connection, for a hot read that needs no ORM session (about half its cost)."""
        with self._read_engine.connect() as connection:
            yield connection

    def operator_warnings(self) -> list[str]:
        """What an operator should fix in the database server's settings before real traffic comes."""
        if not self.is_postgres:
            return []
        with self.engine.connect() as connection:
            autovacuum = connection.exec_driver_sql("SHOW autovacuum").scalar()
        if autovacuum != "on":
            # Measured: on a database never ANALYZEd, ingest fell from ~10,000 to ~1,000 events/s within a
            # minute, as PostgreSQL kept planning its lookups for empty tables.
            return ["PostgreSQL's autovacuum is off, so nothing keeps the planner's statistics current and "
                    "queries slow down as tables grow. Turn it on (autovacuum = on), or run ANALYZE regularly."]
        return []

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()
