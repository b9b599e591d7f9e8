"""The ingest use case: permission, one transaction per request, context traits."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from cadenza.auth import Principal, Scope
from cadenza.bootstrap import Container
from cadenza.core.errors import PermissionDenied
from cadenza.events import service as ingest_service
from cadenza.events.errors import IngestBusy
from tests.conftest import Actors
from tests.events.factories import contact_by_user, contacts, events, facts, identify, ingest, track


def test_ingest_needs_the_ingest_permission(container: Container, actors: Actors) -> None:
    reader = Principal.for_api_key(actors.alice.workspace_id, 1, "read key", Scope.READ)

    with pytest.raises(PermissionDenied):
        ingest(container, reader, track(userId="u1"))

    assert events(container, actors.alice.workspace_id) == []


def test_a_failure_while_storing_leaves_nothing_of_the_request(container: Container, actors: Actors,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest_service, "publish_many", broken)

    with pytest.raises(RuntimeError):
        ingest(container, actors.alice.principal, identify(userId="u1", anonymousId="a1"), track(userId="u1"))

    assert (events(container, actors.alice.workspace_id), contacts(container, actors.alice.workspace_id)) == ([], [])


def test_a_request_beaten_by_concurrent_duplicates_every_time_says_so_and_stores_nothing(
        container: Container, actors: Actors, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[int] = []

    def always_beaten(*_args: Any, **_kwargs: Any) -> None:
        attempts.append(1)
        raise ingest_service._ConcurrentDuplicate

    monkeypatch.setattr(ingest_service, "_insert_events", always_beaten)

    with pytest.raises(IngestBusy) as raised:
        ingest(container, actors.alice.principal, identify(userId="u1"), track(userId="u1"))

    assert (raised.value.status, raised.value.headers) == (503, {"Retry-After": "1"})
    assert len(attempts) == 3
    assert (events(container, actors.alice.workspace_id), contacts(container, actors.alice.workspace_id)) == ([], [])


def test_context_traits_of_any_call_update_the_contact(container: Container, actors: Actors) -> None:
    ingest(container, actors.alice.principal, track(userId="u1", context={"traits": {"plan": "team",
                                                                                    "email": "ada@example.com"}}))

    contact = contact_by_user(container, actors.alice.workspace_id, "u1")
    assert (contact.email, contact.attributes) == ("ada@example.com", {"plan": "team"})
    assert facts(container, actors.alice.workspace_id)[0]["fields"] == [
        "attributes.plan", "created", "email", "external_id", "last_seen_at"]


def test_identify_traits_win_over_context_traits(container: Container, actors: Actors) -> None:
    ingest(container, actors.alice.principal, identify(userId="u1", traits={"plan": "pro"},
                                                       context={"traits": {"plan": "free", "seats": 2}}))

    assert contact_by_user(container, actors.alice.workspace_id, "u1").attributes == {"plan": "pro", "seats": 2}


def test_a_repeated_identify_changes_nothing_and_publishes_only_the_event(container: Container,
                                                                          actors: Actors) -> None:
    ingest(container, actors.alice.principal, identify(userId="u1", traits={"plan": "pro"}))

    ingest(container, actors.alice.principal, identify(userId="u1", traits={"plan": "pro"}))

    assert facts(container, actors.alice.workspace_id)[1]["fields"] == []
    assert facts(container, actors.alice.workspace_id)[1]["events"] == ["identify"]


def test_the_same_batch_sent_at_once_by_several_clients_is_stored_once(container: Container,
                                                                      actors: Actors) -> None:
    batch = [identify(userId=f"u{n}", traits={"plan": "pro"}) for n in range(5)] + [track(userId="u0")]
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def send() -> None:
        barrier.wait()
        results.append(ingest(container, actors.alice.principal, *batch))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted((r.stored_total, r.duplicates) for r in results) == [(0, 6), (0, 6), (0, 6), (6, 0)]
    assert len(events(container, actors.alice.workspace_id)) == 6
    assert len(contacts(container, actors.alice.workspace_id)) == 5


class _HeldFirstWrite:
    """Holds the ingest service's first group write until released, so that the next requests form one group."""

    def __init__(self, container: Container) -> None:
        self.groups = container.ingest._groups
        self.write = self.groups._write
        self.started, self.release = threading.Event(), threading.Event()
        self.sizes: list[int] = []
        self.groups._write = self._held

    def _held(self, requests: Any) -> Any:
        self.sizes.append(len(requests))
        if len(self.sizes) == 1:
            self.started.set()
            assert self.release.wait(10)
        return self.write(requests)

    def send_together(self, *sends: Any) -> list[Any]:
        """Runs sends[0] (held in its write), then the others, which queue; then releases: one group for them."""
        outcomes: list[Any] = [None] * len(sends)

        def run(position: int) -> None:
            try:
                outcomes[position] = sends[position]()
            except Exception as error:
                outcomes[position] = error

        threads = [threading.Thread(target=run, args=(position,)) for position in range(len(sends))]
        threads[0].start()
        assert self.started.wait(10)
        for count, thread in enumerate(threads[1:], start=1):
            thread.start()
            for _ in range(1000):
                with self.groups._condition:
                    if len(self.groups._pending) >= count:
                        break
                threading.Event().wait(0.002)
        self.release.set()
        for thread in threads:
            thread.join(30)
        return outcomes


def test_requests_written_in_one_group_are_resolved_as_if_sent_one_after_another(container: Container,
                                                                                  actors: Actors) -> None:
    held = _HeldFirstWrite(container)
    principal = actors.alice.principal
    repeated = track("Opened", userId="u9")

    first, second, third = held.send_together(
        lambda: ingest(container, principal, track(userId="u0")),
        lambda: ingest(container, principal, track("Browsed", anonymousId="a1"), repeated),
        lambda: ingest(container, principal, identify(userId="u1", anonymousId="a1", traits={"plan": "pro"}),
                       track("Bought", anonymousId="a1"), repeated),
    )

    assert held.sizes == [1, 2]
    assert [(r.stored_total, r.duplicates) for r in (first, second, third)] == [(1, 0), (2, 0), (2, 1)]
    u1 = contact_by_user(container, actors.alice.workspace_id, "u1")
    stored = {e.name: e.contact_id for e in events(container, actors.alice.workspace_id)}
    assert stored["Browsed"] == stored["Bought"] == u1.id  # the earlier anonymous event followed its person
    assert u1.attributes == {"plan": "pro"}


def test_a_request_whose_key_was_revoked_fails_alone_in_its_group(container: Container, actors: Actors) -> None:
    from cadenza.auth.errors import InvalidApiKey

    held = _HeldFirstWrite(container)
    _key, raw = container.access.create_api_key(actors.alice.principal, "leaked", Scope.INGEST)
    leaked = container.access.identify_api_key(raw)
    good = actors.charlie.principal
    container.access.revoke_api_key(actors.alice.principal, _key.id)

    outcomes = held.send_together(
        lambda: ingest(container, good, track(userId="c0")),
        lambda: ingest(container, leaked, track(userId="u1")),
        lambda: ingest(container, good, track(userId="c1")),
    )

    assert isinstance(outcomes[1], InvalidApiKey)
    assert [outcomes[0].stored_total, outcomes[2].stored_total] == [1, 1]
    assert events(container, actors.alice.workspace_id) == []
    assert [e.user_id for e in events(container, actors.charlie.workspace_id)] == ["c0", "c1"]


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"driver error {sqlstate}")
        self.sqlstate = sqlstate


def test_a_transaction_chosen_to_break_a_deadlock_is_redone_whole(container: Container, actors: Actors,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    insert = ingest_service._insert_events
    calls: list[int] = []

    def deadlocked_once(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("COPY events", {}, _DriverError("40P01"))
        insert(*args, **kwargs)

    monkeypatch.setattr(ingest_service, "_insert_events", deadlocked_once)

    result = ingest(container, actors.alice.principal, identify(userId="u1", traits={"plan": "pro"}),
                    track(userId="u1"))

    assert (result.stored_total, len(calls)) == (2, 2)
    assert len(events(container, actors.alice.workspace_id)) == 2
    assert len(contacts(container, actors.alice.workspace_id)) == 1


def test_a_database_error_that_is_not_a_conflict_is_not_retried(container: Container, actors: Actors,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    calls: list[int] = []

    def broken(*_args: Any, **_kwargs: Any) -> None:
        calls.append(1)
        raise OperationalError("COPY events", {}, _DriverError("53100"))  # disk full

    monkeypatch.setattr(ingest_service, "_insert_events", broken)

    with pytest.raises(OperationalError):
        ingest(container, actors.alice.principal, track(userId="u1"))

    assert len(calls) == 1
    assert contacts(container, actors.alice.workspace_id) == []
