"""The transactional outbox: facts exist only if their change committed, and are relayed once, in order."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from cadenza.bootstrap import Container
from cadenza.core.clock import FrozenClock
from cadenza.storage.models import Job, OutboxMessage
from cadenza.storage.outbox import CONTACT_CHANGED, contact_changed, publish, publish_many
from tests.conftest import Actors


def facts(container: Container) -> list[tuple[str, int | None, dict[str, object]]]:
    with container.db.read() as session:
        return [(m.topic, m.workspace_id, m.payload)
                for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def jobs(container: Container) -> list[tuple[str, int | None, dict[str, object]]]:
    with container.db.read() as session:
        return [(j.kind, j.workspace_id, j.payload) for j in session.scalars(select(Job).order_by(Job.id))]


def test_a_fact_is_written_only_when_its_transaction_commits(container: Container, actors: Actors) -> None:
    now = container.clock.now()
    ws = actors.alice.workspace_id
    with pytest.raises(RuntimeError), container.db.transaction() as session:
        publish(session, "thing.happened", {"n": 1}, now=now, workspace_id=ws)
        session.flush()
        raise RuntimeError("the change failed")
    assert facts(container) == []

    with container.db.transaction() as session:
        publish(session, "thing.happened", {"n": 2}, now=now, workspace_id=ws)
        publish_many(session, [contact_changed(ws, 7, fields=["email", "email", "name"], reason="update")], now=now)

    assert facts(container) == [
        ("thing.happened", ws, {"n": 2}),
        (CONTACT_CHANGED, ws, {"contact_id": 7, "fields": ["email", "name"], "events": [], "reason": "update"}),
    ]


def test_the_relay_hands_each_fact_to_its_topic_jobs_once_in_id_order(container: Container,
                                                                      actors: Actors) -> None:
    now = container.clock.now()
    ws = actors.alice.workspace_id
    with container.db.transaction() as session:
        publish_many(session, [contact_changed(ws, i, events=["Signed Up"]) for i in (1, 2)], now=now)
        publish(session, "other.topic", {"x": 1}, now=now)

    relayed = container.outbox.relay(now, topic_jobs={CONTACT_CHANGED: ["segments.refresh", "scores.refresh"]})

    assert [(topic, w, p.get("contact_id")) for topic, w, p in relayed] == [
        (CONTACT_CHANGED, ws, 1), (CONTACT_CHANGED, ws, 2), ("other.topic", None, None)]
    assert [(kind, w, p["contact_id"]) for kind, w, p in jobs(container)] == [
        ("segments.refresh", ws, 1), ("scores.refresh", ws, 1), ("segments.refresh", ws, 2), ("scores.refresh", ws, 2)]
    assert container.outbox.relay(now, topic_jobs={CONTACT_CHANGED: ["segments.refresh"]}) == []
    assert len(jobs(container)) == 4


def test_the_relay_takes_facts_in_batches(container: Container) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        publish_many(session, [{"topic": "t", "payload": {"i": i}} for i in range(5)], now=now)

    batches = [container.outbox.relay(now, limit=2) for _ in range(4)]

    assert [[p["i"] for _t, _w, p in batch] for batch in batches] == [[0, 1], [2, 3], [4], []]


def test_a_failure_while_relaying_leaves_the_facts_unpublished(container: Container) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        publish(session, "t", {"i": 1}, now=now)

    def broken(*_args: object) -> None:
        raise RuntimeError("enqueue failed")

    with pytest.raises(RuntimeError):
        container.outbox.relay(now, broken, topic_jobs={"t": ["k"]})

    assert jobs(container) == []
    assert [p for _t, _w, p in container.outbox.relay(now, topic_jobs={"t": ["k"]})] == [{"i": 1}]
    assert jobs(container) == [("k", None, {"i": 1})]


def test_two_relays_running_at_once_hand_on_every_fact_once_in_id_order(container: Container) -> None:
    now = container.clock.now()
    total = 600
    with container.db.transaction() as session:
        publish_many(session, [{"topic": "t", "payload": {"seq": i}} for i in range(total)], now=now)
    delivered: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def relay_until_empty() -> None:
        try:
            start.wait()
            empty = 0
            while empty < 5:
                batch = container.outbox.relay(now, limit=25, topic_jobs={"t": ["k"]})
                empty = 0 if batch else empty + 1
                with lock:
                    delivered.extend(int(p["seq"]) for _t, _w, p in batch)  # type: ignore[call-overload]
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=relay_until_empty) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(Counter(delivered).items()) == [(i, 1) for i in range(total)]
    # One relay at a time: the jobs, numbered as they were enqueued, follow the facts' order exactly.
    assert [p["seq"] for _k, _w, p in jobs(container)] == list(range(total))


def test_prune_forgets_only_facts_published_before_the_cut(container: Container, clock: FrozenClock) -> None:
    with container.db.transaction() as session:
        publish(session, "t", {"i": 1}, now=clock.now())
    container.outbox.relay(clock.now())
    clock.advance(days=8)
    with container.db.transaction() as session:
        publish(session, "t", {"i": 2}, now=clock.now())
    container.outbox.relay(clock.now())
    with container.db.transaction() as session:
        publish(session, "t", {"i": 3}, now=clock.now())

    assert container.outbox.prune(clock.now() - dt.timedelta(days=7)) == 1
    assert [p for _t, _w, p in facts(container)] == [{"i": 2}, {"i": 3}]
    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.published_at.is_(None))) == 1
