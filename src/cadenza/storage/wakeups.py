"""Wake-ups for idle workers: a job was enqueued, so look now instead of at the next poll.

A unit of work that enqueues a due job marks its session (`announce_job`, called by `enqueue`):

* PostgreSQL: the same transaction runs `pg_notify('cadenza_jobs', '')`. PostgreSQL delivers a
  notification only when its transaction commits (never on rollback), to every connection that LISTENs
  on the channel, in any process. Each worker holds one dedicated connection for this, outside the pool
  (`NotificationListener`).
* Every dialect, in-process: after the commit, the callbacks subscribed in this process for the same
  engine are called (`JobSignal`). On SQLite (one process: `cadenza serve` runs the API and the worker)
  this is the only path; on PostgreSQL it spares a worker in the same process the round trip.

Wake-ups are hints, never the only path: workers still poll every `worker_poll_seconds`. A lost LISTEN
connection is reopened with backoff (0.5 s doubling up to 30 s) without stopping the worker, and each
(re)connection wakes the worker once, for any job enqueued while it was not listening.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CHANNEL = "cadenza_jobs"
LISTENER_APPLICATION_NAME = "cadenza-listener"
_ANNOUNCED = "cadenza_job_announced"  # session.info key: this transaction enqueued a due job
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', '')")

Callback = Callable[[], None]


class JobSignal:
    """The callbacks of one process waiting for jobs enqueued through one engine."""

    def __init__(self) -> None:
        self._callbacks: list[Callback] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callback) -> Callback:
        """Adds `callback`; returns the function that removes it."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def fire(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # a waiter's failure must not fail the committed unit of work
                log.exception("a job wake-up callback failed")


_signals: weakref.WeakKeyDictionary[Engine, JobSignal] = weakref.WeakKeyDictionary()
_signals_lock = threading.Lock()


def signal_for(engine: Engine) -> JobSignal:
    """The in-process signal of jobs enqueued through `engine` (one per engine, made on first use)."""
    with _signals_lock:
        if not event.contains(Session, "after_commit", _after_commit):
            event.listen(Session, "after_commit", _after_commit)
            event.listen(Session, "after_rollback", _after_rollback)
        signal = _signals.get(engine)
        if signal is None:
            signal = _signals[engine] = JobSignal()
        return signal


def announce_job(session: Session) -> None:
    """Marks the session's transaction as having enqueued a due job: waiting workers are woken when (and
    only if) it commits. On PostgreSQL this sends the NOTIFY, once per transaction."""
    if session.info.get(_ANNOUNCED):
        return
    session.info[_ANNOUNCED] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_NOTIFY)


def _after_commit(session: Session) -> None:
    if not session.info.pop(_ANNOUNCED, False):
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    signal = _signals.get(engine)
    if signal is not None:
        signal.fire()


def _after_rollback(session: Session) -> None:
    session.info.pop(_ANNOUNCED, None)


class NotificationListener:
    """LISTENs for job notifications on a dedicated PostgreSQL connection, in a daemon thread, and calls
    `on_wake` for each one, and once after each (re)connection. Never raises: a failed or lost connection
    is logged and reopened with backoff until `stop`."""

    RETRY_FIRST_SECONDS = 0.5
    RETRY_MAX_SECONDS = 30.0
    CHECK_STOP_SECONDS = 0.5

    def __init__(self, engine: Engine, on_wake: Callback) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._on_wake = on_wake
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.connections = 0  # successful (re)connections, for logs and tests
        self.notifications = 0
        self._thread = threading.Thread(target=self._run, name="cadenza-job-listener", daemon=True)

    def start(self) -> NotificationListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = self.RETRY_FIRST_SECONDS
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as error:
                self.connected.clear()
                if self._stop.is_set():
                    break
                log.warning("job notifications: %s: %s; listening again in %.1f s (workers poll meanwhile)",
                            type(error).__name__, str(error).strip() or "connection lost", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.RETRY_MAX_SECONDS)
                continue
            delay = self.RETRY_FIRST_SECONDS
        self.connected.clear()

    def _listen(self) -> None:
        import psycopg  # only PostgreSQL deployments need it

        options: dict[str, Any] = {"autocommit": True, "application_name": LISTENER_APPLICATION_NAME,
                                   "connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30,
                                   "keepalives_interval": 10, "keepalives_count": 3}
        with psycopg.connect(self._conninfo, **options) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self.connections += 1
            self.connected.set()
            log.info("job notifications: listening on %r (connection %d)", CHANNEL, self.connections)
            self._on_wake()  # anything enqueued while we were not listening
            while not self._stop.is_set():
                for _notification in connection.notifies(timeout=self.CHECK_STOP_SECONDS):
                    self.notifications += 1
                    self._on_wake()


class JobWakeups:
    """What one worker subscribes to: the in-process signal, plus a LISTEN connection on PostgreSQL."""

    def __init__(self, engine: Engine, on_wake: Callback, *, listen: bool = True) -> None:
        self._unsubscribe = signal_for(engine).subscribe(on_wake)
        self.listener: NotificationListener | None = None
        if listen and engine.dialect.name == "postgresql":
            self.listener = NotificationListener(engine, on_wake).start()

    def close(self) -> None:
        self._unsubscribe()
        if self.listener is not None:
            self.listener.stop()
