"""The Segment-compatible ingest API over HTTP: auth as Segment's libraries send it, answers, limits."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cadenza.api import create_app
from cadenza.auth import Scope
from cadenza.bootstrap import Container
from tests.conftest import Actors
from tests.events.factories import contact_by_user, events, identify, message, page, track

UTC = dt.UTC


def basic(key: str) -> dict[str, str]:
    """Exactly what analytics-python/-node send: Basic base64("<writeKey>:")."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture
def app(container: Container) -> FastAPI:
    """The API alone: ingest does not depend on the web UI."""
    return create_app(container)


@pytest.fixture
def ingest_key(actors: Actors) -> str:
    return actors.alice.keys[Scope.INGEST]


@pytest.mark.parametrize(("endpoint", "body", "stored"), [
    pytest.param("identify", {"userId": "u1", "traits": {"plan": "pro"}},
                 {"type": "identify", "name": "identify", "properties": {"plan": "pro"}}, id="identify"),
    pytest.param("track", {"userId": "u1", "event": "Order Completed", "properties": {"revenue": 42.5}},
                 {"type": "track", "name": "Order Completed", "properties": {"revenue": 42.5}}, id="track"),
    pytest.param("page", {"userId": "u1", "name": "Pricing", "category": "Docs", "properties": {"path": "/p"}},
                 {"type": "page", "name": "Pricing", "category": "Docs", "properties": {"path": "/p"}}, id="page"),
    pytest.param("screen", {"userId": "u1", "name": "Home", "properties": {"variant": "b"}},
                 {"type": "screen", "name": "Home", "properties": {"variant": "b"}}, id="screen"),
    pytest.param("group", {"userId": "u1", "groupId": "g1", "traits": {"name": "Initech"}},
                 {"type": "group", "name": "group", "group_id": "g1", "properties": {"name": "Initech"}}, id="group"),
    pytest.param("alias", {"userId": "u1", "previousId": "anon-1"},
                 {"type": "alias", "name": "alias", "previous_id": "anon-1", "properties": {}}, id="alias"),
])
def test_each_endpoint_stores_its_call(client: TestClient, container: Container, actors: Actors, ingest_key: str,
                                       endpoint: str, body: dict[str, Any], stored: dict[str, Any]) -> None:
    response = client.post(f"/v1/{endpoint}", json={"messageId": "m-1", **body}, headers=basic(ingest_key))

    assert response.status_code == 200
    assert response.json() == {"success": True}
    [event] = events(container, actors.alice.workspace_id)
    assert event.message_id == "m-1"
    assert event.user_id == "u1"
    assert event.contact_id == contact_by_user(container, actors.alice.workspace_id, "u1").id
    assert {key: getattr(event, key) for key in stored} == stored


def test_batch_stores_every_message(client: TestClient, container: Container, actors: Actors,
                                    ingest_key: str) -> None:
    batch = [identify(userId="u1"), track("Signed Up", userId="u1"), page(anonymousId="a9", name="Home")]

    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(ingest_key))

    assert response.json() == {"success": True}
    assert [(e.type, e.name, e.message_id) for e in events(container, actors.alice.workspace_id)] == [
        ("identify", "identify", batch[0]["messageId"]), ("track", "Signed Up", batch[1]["messageId"]),
        ("page", "Home", batch[2]["messageId"])]


def test_a_bearer_key_works_too(client: TestClient, container: Container, actors: Actors, ingest_key: str) -> None:
    response = client.post("/v1/track", json=track(userId="u1"), headers={"Authorization": f"Bearer {ingest_key}"})

    assert response.status_code == 200
    assert len(events(container, actors.alice.workspace_id)) == 1


def test_a_write_key_in_the_body_works_as_analytics_js_sends_it(client: TestClient, container: Container,
                                                                actors: Actors, ingest_key: str) -> None:
    body = orjson.dumps({"batch": [track(userId="u1")], "writeKey": ingest_key})

    response = client.post("/v1/batch", content=body, headers={"Content-Type": "text/plain"})

    assert response.status_code == 200
    assert len(events(container, actors.alice.workspace_id)) == 1


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no-key"),
    pytest.param(basic("cdz_00000000_not-a-real-key"), id="unknown-key"),
    pytest.param({"Authorization": "Basic !!!"}, id="not-base64"),
])
def test_without_a_valid_key_the_answer_is_401_and_nothing_is_stored(client: TestClient, container: Container,
                                                                     actors: Actors, headers: dict[str, str]) -> None:
    response = client.post("/v1/track", json=track(userId="u1"), headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert events(container, actors.alice.workspace_id) == []


def test_a_read_scoped_key_gets_403_and_nothing_is_stored(client: TestClient, container: Container,
                                                         actors: Actors) -> None:
    response = client.post("/v1/batch", json={"batch": [track(userId="u1")]},
                           headers=basic(actors.alice.keys[Scope.READ]))

    assert response.status_code == 403
    assert events(container, actors.alice.workspace_id) == []


def test_events_land_in_the_key_s_own_workspace(client: TestClient, container: Container, actors: Actors) -> None:
    client.post("/v1/track", json=track(userId="u1"), headers=basic(actors.charlie.keys[Scope.INGEST]))

    assert events(container, actors.alice.workspace_id) == []
    assert len(events(container, actors.charlie.workspace_id)) == 1


def test_a_repeated_message_id_is_stored_once_and_counted(client: TestClient, container: Container, actors: Actors,
                                                         ingest_key: str) -> None:
    first, second = track(userId="u1", messageId="dup-1"), track(userId="u1", messageId="dup-2")

    within = client.post("/v1/batch", json={"batch": [first, first, second]}, headers=basic(ingest_key))
    across = client.post("/v1/batch", json={"batch": [second, track(userId="u1", messageId="dup-3")]},
                         headers=basic(ingest_key))
    single = client.post("/v1/track", json=first, headers=basic(ingest_key))

    assert within.json() == {"success": True, "duplicates": 1}
    assert across.json() == {"success": True, "duplicates": 1}
    assert single.json() == {"success": True, "duplicates": 1}
    assert [e.message_id for e in events(container, actors.alice.workspace_id)] == ["dup-1", "dup-2", "dup-3"]


def test_a_bad_message_is_rejected_alone_with_its_index_and_reason(client: TestClient, container: Container,
                                                                  actors: Actors, ingest_key: str) -> None:
    good = [track(userId="u1"), track(userId="u2"), track(userId="u3")]
    batch = [good[0], good[1], {"type": "track", "messageId": "bad-1", "event": "X"}, good[2],
             {"type": "shout", "userId": "u1"}, {"type": "track", "userId": True, "event": "X"}]

    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(ingest_key))

    assert response.status_code == 200
    assert response.json() == {"success": True, "rejected": [
        {"index": 2, "messageId": "bad-1",
         "errors": [{"field": "userId", "message": "userId or anonymousId is required"}]},
        {"index": 4, "messageId": None,
         "errors": [{"field": "type", "message": "must be one of identify, track, page, screen, group, alias"}]},
        {"index": 5, "messageId": None, "errors": [{"field": "userId", "message": "must be a string"}]},
    ]}
    assert [e.message_id for e in events(container, actors.alice.workspace_id)] == [m["messageId"] for m in good]


def test_when_every_message_is_bad_the_answer_is_400_with_the_same_list(client: TestClient, container: Container,
                                                                      actors: Actors, ingest_key: str) -> None:
    response = client.post("/v1/batch", json={"batch": [{"type": "track", "userId": "u1"}]}, headers=basic(ingest_key))

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["rejected"] == [
        {"index": 0, "messageId": None, "errors": [{"field": "event", "message": "is required for track"}]}]
    assert events(container, actors.alice.workspace_id) == []


def test_a_bad_single_call_is_400_naming_the_field(client: TestClient, ingest_key: str) -> None:
    response = client.post("/v1/alias", json={"userId": "u1"}, headers=basic(ingest_key))

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "previousId", "message": "is required for alias"}]
    assert response.json()["detail"] == "previousId: is required for alias"


@pytest.mark.parametrize("body", [
    pytest.param(b"{not json", id="broken"),
    pytest.param(b"", id="empty"),
    pytest.param(b"[1, 2]", id="not-an-object"),
    pytest.param(b'{"batch": {"type": "track"}}', id="batch-not-a-list"),
])
def test_a_malformed_body_is_400_problem_json(client: TestClient, container: Container, actors: Actors,
                                              ingest_key: str, body: bytes) -> None:
    response = client.post("/v1/batch", content=body, headers=basic(ingest_key))

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://cadenza.dev/problems/malformed-body"
    assert events(container, actors.alice.workspace_id) == []


def test_malformed_json_names_the_problem(client: TestClient, ingest_key: str) -> None:
    response = client.post("/v1/track", content=b'{"userId": "u1",}', headers=basic(ingest_key))

    assert response.json()["detail"].startswith("The body is not valid JSON: ")
    assert "line 1 column" in response.json()["detail"]


def _padded_batch(size: int) -> bytes:
    body = orjson.dumps({"batch": [track(userId="u1", properties={"pad": ""})]})
    return body.replace(b'"pad":""', b'"pad":"' + b"x" * (size - len(body)) + b'"')


def test_a_batch_over_500_kb_is_413(client: TestClient, container: Container, actors: Actors,
                                    ingest_key: str) -> None:
    body = _padded_batch(500 * 1024 + 1)

    response = client.post("/v1/batch", content=body, headers=basic(ingest_key))

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert events(container, actors.alice.workspace_id) == []


def test_a_batch_of_exactly_500_kb_is_read_and_its_messages_judged(client: TestClient, ingest_key: str) -> None:
    response = client.post("/v1/batch", content=_padded_batch(500 * 1024), headers=basic(ingest_key))

    # Not 413: the body is within the limit. Its one message is over 32 KB, so that message is refused.
    assert response.status_code == 400
    [rejected] = response.json()["rejected"]
    assert rejected["errors"][0]["message"].startswith("the message is 5")


def test_a_chunked_body_without_content_length_is_cut_off_at_the_limit(client: TestClient, container: Container,
                                                                       actors: Actors, ingest_key: str) -> None:
    body = _padded_batch(600 * 1024)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    response = client.post("/v1/batch", content=chunks(), headers=basic(ingest_key))

    assert response.status_code == 413
    assert events(container, actors.alice.workspace_id) == []


def test_an_oversized_message_in_a_batch_is_rejected_alone(client: TestClient, container: Container,
                                                          actors: Actors, ingest_key: str) -> None:
    big = track(userId="u1", messageId="big", properties={"blob": "x" * (32 * 1024)})
    small = track(userId="u1", messageId="small")

    response = client.post("/v1/batch", json={"batch": [big, small]}, headers=basic(ingest_key))

    assert response.status_code == 200
    [rejected] = response.json()["rejected"]
    assert rejected["index"] == 0
    assert rejected["messageId"] == "big"
    assert rejected["errors"][0]["message"].endswith("at most 32768 are accepted per message")
    assert [e.message_id for e in events(container, actors.alice.workspace_id)] == ["small"]


def test_an_oversized_single_call_is_413(client: TestClient, container: Container, actors: Actors,
                                         ingest_key: str) -> None:
    response = client.post("/v1/track", json=track(userId="u1", properties={"blob": "x" * (32 * 1024)}),
                           headers=basic(ingest_key))

    assert response.status_code == 413
    assert events(container, actors.alice.workspace_id) == []


def test_a_gzipped_batch_is_accepted(client: TestClient, container: Container, actors: Actors,
                                     ingest_key: str) -> None:
    body = gzip.compress(orjson.dumps({"batch": [track(userId="u1"), track(userId="u2")]}))

    response = client.post("/v1/batch", content=body, headers={**basic(ingest_key), "Content-Encoding": "gzip"})

    assert response.json() == {"success": True}
    assert len(events(container, actors.alice.workspace_id)) == 2


def test_a_nul_character_rejects_only_its_message(client: TestClient, container: Container, actors: Actors,
                                                  ingest_key: str) -> None:
    batch = [track(userId="u1", properties={"note": "a\u0000b"}), track(userId="u1", properties={"note": "a\\u0000"})]

    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(ingest_key))

    assert response.json()["rejected"][0]["index"] == 0
    assert [e.properties for e in events(container, actors.alice.workspace_id)] == [{"note": "a\\u0000"}]


def test_the_ingest_counters_count(client: TestClient, ingest_key: str) -> None:
    first = track(userId="u1")
    client.post("/v1/batch", json={"batch": [first, first, identify(userId="u1"), {"type": "track"}]},
                headers=basic(ingest_key))

    metrics = client.get("/metrics").text
    assert 'cadenza_ingested_events_total{type="track"} 1.0' in metrics
    assert 'cadenza_ingested_events_total{type="identify"} 1.0' in metrics
    assert "cadenza_ingest_duplicates_total 1.0" in metrics
    assert "cadenza_ingest_rejected_total 1.0" in metrics


def test_clock_skew_is_corrected_from_sent_at(client: TestClient, container: Container, actors: Actors,
                                              ingest_key: str) -> None:
    # The server's clock says 12:00:00; the device thought it was 09:00:10 when it sent, 09:00:00 at the event.
    body = track(userId="u1", timestamp="2026-01-01T09:00:00Z", sentAt="2026-01-01T09:00:10Z")

    client.post("/v1/track", json=body, headers=basic(ingest_key))

    [event] = events(container, actors.alice.workspace_id)
    assert event.occurred_at == dt.datetime(2026, 1, 1, 11, 59, 50, tzinfo=UTC)
    assert event.received_at == dt.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert event.sent_at == dt.datetime(2026, 1, 1, 9, 0, 10, tzinfo=UTC)


def test_a_message_without_message_id_gets_one(client: TestClient, container: Container, actors: Actors,
                                               ingest_key: str) -> None:
    client.post("/v1/track", json=message("track", messageId=None, event="X", userId="u1"), headers=basic(ingest_key))

    [event] = events(container, actors.alice.workspace_id)
    assert event.message_id.startswith("api-")
    assert len(event.message_id) == len("api-") + 36


def test_analytics_js_short_paths_and_cors(client: TestClient, container: Container, actors: Actors,
                                           ingest_key: str) -> None:
    # analytics.js: POST /v1/t with text/plain and the write key in the body, from another origin.
    body = orjson.dumps({**track(userId="u1", messageId="from-browser"), "writeKey": ingest_key})

    response = client.post("/v1/t", content=body, headers={"Content-Type": "text/plain",
                                                          "Origin": "https://shop.example.com"})
    preflight = client.options("/v1/batch", headers={"Origin": "https://shop.example.com",
                                                     "Access-Control-Request-Method": "POST",
                                                     "Access-Control-Request-Headers": "authorization,content-type"})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert [(e.type, e.message_id) for e in events(container, actors.alice.workspace_id)] == [("track",
                                                                                              "from-browser")]
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "POST, OPTIONS"
    assert "Authorization" in preflight.headers["access-control-allow-headers"]


def test_the_short_batch_path_takes_a_batch(client: TestClient, container: Container, actors: Actors,
                                            ingest_key: str) -> None:
    response = client.post("/v1/b", json={"batch": [page(userId="u1", name="Home")]}, headers=basic(ingest_key))

    assert response.json() == {"success": True}
    assert [e.type for e in events(container, actors.alice.workspace_id)] == ["page"]



def test_a_number_out_of_range_rejects_only_its_message(client: TestClient, container: Container, actors: Actors,
                                                        ingest_key: str) -> None:
    body = (b'{"batch": [{"type": "identify", "userId": "u1", "messageId": "m-1", "traits": {"n": 1e400}},'
            b' {"type": "track", "userId": "u1", "messageId": "m-2", "event": "X", "properties": {"n": 1.5e10}},'
            b' {"type": "track", "userId": "u1", "messageId": "9e123", "event": "X"}]}')

    response = client.post("/v1/batch", content=body, headers={**basic(ingest_key),
                                                                "Content-Type": "application/json"})

    assert response.json() == {"success": True, "rejected": [
        {"index": 0, "messageId": "m-1", "errors": [{"field": "", "message": "holds a number out of range"}]}]}
    assert [(e.message_id, e.properties) for e in events(container, actors.alice.workspace_id)] == [
        ("m-2", {"n": 1.5e10}), ("9e123", {})]


def test_whole_numbers_past_64_bits_are_kept_exactly(client: TestClient, container: Container, actors: Actors,
                                                     ingest_key: str) -> None:
    big = 123456789012345678901234567890
    body = b'{"batch": [{"type": "track", "userId": "u1", "event": "X", "properties": {"n": %d}}]}' % big

    response = client.post("/v1/batch", content=body, headers={**basic(ingest_key),
                                                                "Content-Type": "application/json"})

    assert response.json() == {"success": True}
    [event] = events(container, actors.alice.workspace_id)
    assert event.properties == {"n": big}


def test_ingest_requests_are_counted_by_path_and_status(client: TestClient, ingest_key: str) -> None:
    # Segment calls are answered in front of the middleware (cadenza.api.ingest_path), which counts them itself.
    client.post("/v1/batch", json={"batch": [track(userId="u1")]}, headers=basic(ingest_key))
    client.post("/v1/t", json=track(userId="u1"), headers=basic(ingest_key))
    client.post("/v1/t", json=track(userId="u1"))

    metrics = client.get("/metrics").text
    assert 'cadenza_http_requests_total{method="POST",route="/v1/batch",status="200"} 1.0' in metrics
    assert 'cadenza_http_requests_total{method="POST",route="/v1/t",status="200"} 1.0' in metrics
    assert 'cadenza_http_requests_total{method="POST",route="/v1/t",status="401"} 1.0' in metrics
    assert 'cadenza_http_request_duration_seconds_count{method="POST",route="/v1/t"} 2.0' in metrics


def test_a_refused_call_tells_a_browser_why(client: TestClient, ingest_key: str) -> None:
    # analytics.js posts from the site's own origin: without the CORS header it could not read the problem.
    response = client.post("/v1/batch", content=b"{not json", headers={**basic(ingest_key),
                                                                      "Origin": "https://shop.example.com"})

    assert response.status_code == 400
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["instance"] == "/v1/batch"


def test_the_router_alone_serves_the_same_calls(container: Container, actors: Actors, ingest_key: str) -> None:
    # The routes declared for /openapi.json answer as the short way in does, where it is not in front.
    from cadenza.api.metrics import Metrics
    from cadenza.api.routers import ingest

    app = FastAPI()
    app.state.container, app.state.metrics = container, Metrics()
    app.include_router(ingest.router, prefix="/v1")
    with TestClient(app) as plain:
        stored = plain.post("/v1/batch", json={"batch": [track(userId="u1"), {"type": "track"}]},
                            headers=basic(ingest_key))
        refused = plain.post("/v1/track", json=track(userId="u1"))

    assert stored.status_code == 200
    assert stored.json()["rejected"][0]["index"] == 1
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Basic realm="cadenza", Bearer'
    assert len(events(container, actors.alice.workspace_id)) == 1
