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
