"""The idempotency-key store: reservations, replays, conflicts, lifetimes."""

from __future__ import annotations

import pytest

from cadenza.bootstrap import Container
from cadenza.core.clock import FrozenClock
from cadenza.core.errors import Conflict
from cadenza.storage.idempotency import StoredResponse
from tests.conftest import Actors


def test_a_finished_request_is_replayed(container: Container, actors: Actors, clock: FrozenClock) -> None:
    store, ws = container.idempotency, actors.alice.workspace_id

    assert store.begin(ws, "k1", "hash-a", clock.now()) is None
    store.finish(ws, "k1", 201, '{"id": 1}', "application/json")

    assert store.begin(ws, "k1", "hash-a", clock.now()) == StoredResponse(201, '{"id": 1}', "application/json")


def test_the_same_key_for_another_request_is_a_conflict(container: Container, actors: Actors,
                                                        clock: FrozenClock) -> None:
    store, ws = container.idempotency, actors.alice.workspace_id
    store.begin(ws, "k1", "hash-a", clock.now())
    store.finish(ws, "k1", 201, "{}")

    with pytest.raises(Conflict, match="different request"):
        store.begin(ws, "k1", "hash-b", clock.now())


def test_a_request_still_running_is_a_conflict_until_it_is_abandoned(container: Container, actors: Actors,
                                                                     clock: FrozenClock) -> None:
    store, ws = container.idempotency, actors.alice.workspace_id
    store.begin(ws, "k1", "hash-a", clock.now())

    clock.advance(minutes=4, seconds=59)
    with pytest.raises(Conflict, match="still being processed"):
        store.begin(ws, "k1", "hash-a", clock.now())
    clock.advance(seconds=2)  # the first request's process died: its reservation is given up
    assert store.begin(ws, "k1", "hash-a", clock.now()) is None


def test_a_server_error_is_not_stored(container: Container, actors: Actors, clock: FrozenClock) -> None:
    store, ws = container.idempotency, actors.alice.workspace_id
    store.begin(ws, "k1", "hash-a", clock.now())
    store.finish(ws, "k1", 503, "{}")

    assert store.begin(ws, "k1", "hash-a", clock.now()) is None


def test_keys_belong_to_a_workspace_and_expire_after_a_day(container: Container, actors: Actors,
                                                            clock: FrozenClock) -> None:
    store = container.idempotency
    alice, charlie = actors.alice.workspace_id, actors.charlie.workspace_id
    store.begin(alice, "k1", "hash-a", clock.now())
    store.finish(alice, "k1", 201, "alice")

    assert store.begin(charlie, "k1", "hash-b", clock.now()) is None
    clock.advance(hours=23, minutes=59)
    assert store.begin(alice, "k1", "hash-a", clock.now()) == StoredResponse(201, "alice", None)
    clock.advance(minutes=2)
    assert store.begin(alice, "k1", "hash-b", clock.now()) is None  # expired: a new request may use it


def test_prune_deletes_keys_past_their_lifetime(container: Container, actors: Actors, clock: FrozenClock) -> None:
    store, ws = container.idempotency, actors.alice.workspace_id
    store.begin(ws, "old", "h", clock.now())
    clock.advance(hours=20)
    store.begin(ws, "new", "h", clock.now())
    clock.advance(hours=5)

    assert store.prune(clock.now()) == 1
    assert store.prune(clock.now()) == 0
