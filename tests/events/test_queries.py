"""Reading events: a contact's timeline and the workspace's events, newest first, keyset-paginated."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cadenza.api import create_app
from cadenza.auth import Principal, Scope
from cadenza.bootstrap import Container
from cadenza.core.errors import NotFound, PermissionDenied, ValidationFailed
from tests.conftest import Actors
from tests.events.factories import contact_by_user, ingest, page, track

UTC = dt.UTC


@pytest.fixture
def app(container: Container) -> FastAPI:
    return create_app(container)


def _history(container: Container, principal: Principal) -> int:
    """u1: five events an hour apart from 07:00 (two at 09:00), plus others' events. Returns u1's contact id."""
    ingest(container, principal,
           track("Signed Up", userId="u1", messageId="e1", timestamp="2026-01-01T07:00:00Z"),
           page(userId="u1", name="Pricing", messageId="e2", timestamp="2026-01-01T08:00:00Z"),
           track("Order Completed", userId="u1", messageId="e3", timestamp="2026-01-01T09:00:00Z"),
           track("Email Opened", userId="u1", messageId="e4", timestamp="2026-01-01T09:00:00Z"),
           track("Order Completed", userId="u1", messageId="e5", timestamp="2026-01-01T10:00:00Z"),
           track("Order Completed", userId="u2", messageId="other", timestamp="2026-01-01T09:30:00Z"),
           page(anonymousId="a1", name="Home", messageId="anon", timestamp="2026-01-01T06:00:00Z"))
    return contact_by_user(container, principal.workspace_id, "u1").id


def test_the_timeline_is_newest_first_and_pages_without_gaps(container: Container, actors: Actors) -> None:
    contact_id = _history(container, actors.alice.principal)
    seen: list[list[str]] = []
    cursor = None
    while True:
        result = container.events.timeline(actors.alice.principal, contact_id, limit=2, cursor=cursor)
        seen.append([e.message_id for e in result.items])
        cursor = result.next_cursor
        if cursor is None:
            break

    assert seen == [["e5", "e4"], ["e3", "e2"], ["e1"]]


def test_the_timeline_filters_by_name_and_time(container: Container, actors: Actors) -> None:
    contact_id = _history(container, actors.alice.principal)

    by_name = container.events.timeline(actors.alice.principal, contact_id, name="Order Completed")
    by_time = container.events.timeline(actors.alice.principal, contact_id,
                                        since=dt.datetime(2026, 1, 1, 8, tzinfo=UTC),
                                        until=dt.datetime(2026, 1, 1, 10, tzinfo=UTC))

    assert [e.message_id for e in by_name.items] == ["e5", "e3"]
    assert [e.message_id for e in by_time.items] == ["e4", "e3", "e2"]


def test_the_timeline_of_another_workspace_s_contact_is_not_found(container: Container, actors: Actors) -> None:
    contact_id = _history(container, actors.alice.principal)

    with pytest.raises(NotFound):
        container.events.timeline(actors.charlie.principal, contact_id)
    with pytest.raises(NotFound):
        container.events.timeline(actors.alice.principal, contact_id + 1000)


def test_reading_events_needs_the_read_permission(container: Container, actors: Actors) -> None:
    contact_id = _history(container, actors.alice.principal)
    ingest_only = Principal.for_api_key(actors.alice.workspace_id, 1, "ingest key", Scope.INGEST)

    with pytest.raises(PermissionDenied):
        container.events.timeline(ingest_only, contact_id)


def test_a_forged_cursor_is_refused(container: Container, actors: Actors) -> None:
    contact_id = _history(container, actors.alice.principal)

    with pytest.raises(ValidationFailed):
        container.events.timeline(actors.alice.principal, contact_id, cursor="WyJub3QgYSB0aW1lIiwgMV0")


def test_the_events_api_lists_a_contact_s_timeline(client: TestClient, container: Container,
                                                   actors: Actors) -> None:
    contact_id = _history(container, actors.alice.principal)
    headers = actors.alice.headers(Scope.READ)

    first = client.get(f"/api/v1/contacts/{contact_id}/events", params={"limit": 3}, headers=headers)
    rest = client.get(f"/api/v1/contacts/{contact_id}/events",
                      params={"limit": 3, "cursor": first.json()["next_cursor"]}, headers=headers)

    assert first.status_code == 200
    assert [e["message_id"] for e in first.json()["data"]] == ["e5", "e4", "e3"]
    assert [e["message_id"] for e in rest.json()["data"]] == ["e2", "e1"]
    assert rest.json()["next_cursor"] is None
    event = first.json()["data"][0]
    assert (event["type"], event["name"], event["contact_id"], event["occurred_at"]) == (
        "track", "Order Completed", contact_id, "2026-01-01T10:00:00Z")


def test_the_events_api_lists_the_workspace_by_time_range(client: TestClient, container: Container,
                                                          actors: Actors) -> None:
    _history(container, actors.alice.principal)

    response = client.get("/api/v1/events", params={"since": "2026-01-01T08:30:00Z", "until": "2026-01-01T10:00:00Z"},
                          headers=actors.alice.headers(Scope.READ))
    pages = client.get("/api/v1/events", params={"type": "page"}, headers=actors.alice.headers(Scope.READ))

    assert [e["message_id"] for e in response.json()["data"]] == ["other", "e4", "e3"]
    assert [e["message_id"] for e in pages.json()["data"]] == ["e2", "anon"]


def test_the_events_api_is_scoped_to_the_key_s_workspace(client: TestClient, container: Container,
                                                         actors: Actors) -> None:
    contact_id = _history(container, actors.alice.principal)
    headers = actors.charlie.headers(Scope.READ)

    assert client.get(f"/api/v1/contacts/{contact_id}/events", headers=headers).status_code == 404
    assert client.get("/api/v1/events", headers=headers).json() == {"data": [], "next_cursor": None}


def test_an_ingest_key_cannot_read_events(client: TestClient, container: Container, actors: Actors) -> None:
    contact_id = _history(container, actors.alice.principal)

    response = client.get(f"/api/v1/contacts/{contact_id}/events", headers=actors.alice.headers(Scope.INGEST))

    assert response.status_code == 403
