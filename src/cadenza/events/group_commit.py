"""Group commit for SQLite's single writer.

SQLite lets one transaction write at a time, and a commit may have to checkpoint the WAL (an fsync). When
several ingest requests are waiting, the one that gets the write lock stores all of them in one
transaction, each inside its own SAVEPOINT: a request that fails rolls back alone, the others commit
together, and nobody is answered before the commit. Every request stays all-or-nothing (a crash loses a
whole group, never part of a request); what is shared is the cost of BEGIN, COMMIT and the checkpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from cadenza.storage import Database

T = TypeVar("T")


@dataclass(eq=False)
class _Request(Generic[T]):
    work: Callable[[Session], T]
    result: T | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class GroupCommit:
    db: Database
    _pending: list[_Request] = field(default_factory=list)  # type: ignore[type-arg]
    _queue_lock: threading.Lock = field(default_factory=threading.Lock)
    _writer: threading.Lock = field(default_factory=threading.Lock)

    def run(self, work: Callable[[Session], T]) -> T:
        """Runs `work(session)` in a transaction shared with the requests waiting beside it; returns after commit."""
        request: _Request[T] = _Request(work)
        with self._queue_lock:
            self._pending.append(request)
        with self._writer:
            if not request.done:  # no earlier writer took it along: write everything waiting, this one included
                with self._queue_lock:
                    group, self._pending = self._pending, []
                self._write(group)
        if request.error is not None:
            raise request.error
        return request.result  # type: ignore[return-value]

    def _write(self, group: list[_Request]) -> None:  # type: ignore[type-arg]
        try:
            with self.db.transaction() as session:
                for request in group:
                    try:
                        with session.begin_nested():
                            request.result = request.work(session)
                    except Exception as error:  # this request rolls back alone
                        request.error = error
        except BaseException as error:  # the commit failed: nothing of the group is stored
            for request in group:
                request.result, request.error = None, request.error or error
            if not isinstance(error, Exception):
                raise
        finally:
            for request in group:
                request.done = True
