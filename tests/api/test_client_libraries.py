"""Segment's and RudderStack's own Python libraries send to a real Cadenza server, unchanged but for its address.

Both post `/v1/batch` with the write key as the HTTP Basic user name (RudderStack's gzipped); what they send
must be stored as they meant it: every call, its person stitched, its company joined, nothing refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from cadenza.auth import Scope
from cadenza.bootstrap import Container
from tests.conftest import Actors
from tests.events.factories import contact_by_user, events
from tests.live import LiveServer, serving


class AnalyticsClient(Protocol):
    """What segment.analytics.Client and rudderstack.analytics.Client have in common."""

    def identify(self, user_id: str | None = ..., traits: dict[str, Any] | None = ..., **kwargs: Any) -> Any: ...
    def track(self, user_id: str | None = ..., event: str | None = ..., properties: dict[str, Any] | None = ...,
              **kwargs: Any) -> Any: ...
    def page(self, user_id: str | None = ..., category: str | None = ..., name: str | None = ...,
             properties: dict[str, Any] | None = ..., **kwargs: Any) -> Any: ...
    def group(self, user_id: str | None = ..., group_id: str | None = ..., traits: dict[str, Any] | None = ...,
              **kwargs: Any) -> Any: ...
    def alias(self, previous_id: str | None = ..., user_id: str | None = ..., **kwargs: Any) -> Any: ...
    def flush(self) -> None: ...
    def shutdown(self) -> None: ...


def segment_client(key: str, host: str, errors: list[Exception]) -> AnalyticsClient:
    from segment.analytics import Client

    return Client(write_key=key, host=host, on_error=lambda error, _batch: errors.append(error), max_retries=0)


def rudderstack_client(key: str, host: str, errors: list[Exception]) -> AnalyticsClient:
    from rudderstack.analytics import Client

    return Client(write_key=key, host=host, on_error=lambda error, _batch: errors.append(error), max_retries=0)


@pytest.fixture
def live(container: Container) -> Iterator[LiveServer]:
    with serving(container) as server:
        yield server


@pytest.mark.parametrize("make_client", [segment_client, rudderstack_client], ids=["segment", "rudderstack"])
def test_a_client_library_s_calls_are_stored_as_it_meant_them(container: Container, actors: Actors,
                                                              live: LiveServer, make_client: Any) -> None:
    errors: list[Exception] = []
    client = make_client(actors.alice.keys[Scope.INGEST], live.base, errors)
    anonymous = "visitor-7f3a"
    client.page(anonymous_id=anonymous, name="Pricing", properties={"path": "/pricing"})
    client.track(anonymous_id=anonymous, event="Demo Requested", properties={"plan": "team", "seats": 12})
    client.identify("user-42", {"email": "Grace.Hopper@Example.com", "firstName": "Grace", "plan": "pro"},
                    anonymous_id=anonymous)
    client.group("user-42", "acme-co", {"name": "Acme Co", "employees": 250})
    client.alias("old-user-42", "user-42")
    client.track("user-42", "Order Completed", {"revenue": 42.5, "currency": "EUR"},
                 timestamp=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    client.flush()
    client.shutdown()

    assert errors == []
    workspace = actors.alice.workspace_id
    stored = events(container, workspace)
    assert [(e.type, e.name) for e in stored] == [
        ("page", "Pricing"), ("track", "Demo Requested"), ("identify", "identify"), ("group", "group"),
        ("alias", "alias"), ("track", "Order Completed")]
    grace = contact_by_user(container, workspace, "user-42")
    assert (grace.email, grace.first_name) == ("grace.hopper@example.com", "Grace")
    assert grace.attributes["plan"] == "pro"
    assert {e.contact_id for e in stored} == {grace.id}  # the anonymous page and track followed her
    assert grace.company_id is not None
    order = stored[-1]
    assert order.properties == {"revenue": 42.5, "currency": "EUR"}
    assert order.context["library"]["name"]  # the library said who it is, and it was kept
    assert order.occurred_at == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC) + (order.received_at - order.sent_at)
