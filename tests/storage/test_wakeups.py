"""Wake-ups: enqueueing a due job tells waiting workers once its transaction commits, and only then."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from cadenza.bootstrap import Container
from cadenza.storage.queue import enqueue, enqueue_many
from cadenza.storage.wakeups import CHANNEL


class Boom(Exception):
    pass


@pytest.fixture
def woken(container: Container) -> Iterator[list[int]]:
    """Counts in-process wake-ups (no LISTEN connection)."""
    calls: list[int] = []
    wakeups = container.queue.wakeups(lambda: calls.append(1), listen=False)
    yield calls
    wakeups.close()


@pytest.fixture
def listener(container: Container) -> Iterator[psycopg.Connection[Any]]:
    """A plain LISTEN connection, as another process would hold."""
    if not container.db.is_postgres:
        pytest.skip("NOTIFY is PostgreSQL's")
    url = container.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"LISTEN {CHANNEL}")
        yield connection


def notifications(connection: psycopg.Connection[Any], timeout: float = 0.3) -> list[str]:
    return [n.channel for n in connection.notifies(timeout=timeout)]


def test_a_subscriber_is_woken_after_the_enqueuing_commit_not_before(container: Container,
                                                                      woken: list[int]) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        enqueue(session, "test.noop", {}, now=now)
        enqueue(session, "test.noop", {}, now=now)
        assert woken == []

    assert woken == [1]  # once per transaction


def test_a_rolled_back_enqueue_wakes_nobody(container: Container, woken: list[int]) -> None:
    with pytest.raises(Boom), container.db.transaction() as session:
        enqueue(session, "test.noop", {}, now=container.clock.now())
        raise Boom()
    with container.db.transaction() as session:
        enqueue(session, "test.noop", {}, now=container.clock.now(), due_at=container.clock.now()
                + dt.timedelta(minutes=1))

    assert woken == []  # nor does a job that is not due yet


def test_enqueue_many_wakes_once_when_one_job_is_due(container: Container, woken: list[int]) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        enqueue_many(session, [{"kind": "a", "due_at": now + dt.timedelta(hours=1)}], now=now)
    assert woken == []
    with container.db.transaction() as session:
        enqueue_many(session, [{"kind": "a", "due_at": now + dt.timedelta(hours=1)}, {"kind": "b"}], now=now)
    assert woken == [1]


def test_a_closed_subscription_is_not_called(container: Container) -> None:
    calls: list[int] = []
    container.queue.wakeups(lambda: calls.append(1), listen=False).close()
    with container.db.transaction() as session:
        enqueue(session, "test.noop", {}, now=container.clock.now())
    assert calls == []


def test_postgres_notifies_listeners_on_commit_only(container: Container,
                                                     listener: psycopg.Connection[Any]) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        enqueue(session, "test.noop", {}, now=now)
        assert notifications(listener) == []  # not before the commit
    assert notifications(listener) == [CHANNEL]

    with pytest.raises(Boom), container.db.transaction() as session:
        enqueue(session, "test.noop", {}, now=now)
        raise Boom()
    with container.db.transaction() as session:
        enqueue(session, "test.noop", {}, now=now, due_at=now + dt.timedelta(minutes=1))
    assert notifications(listener) == []
