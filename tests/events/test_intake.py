"""Reading Segment messages, without a database: validation, limits, timestamps."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from cadenza.events.errors import MalformedBody
from cadenza.events.intake import encode_items, parse_json, read_batch_body, read_messages, read_single_body

UTC = dt.UTC
RECEIVED = dt.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def read(*items: Any, **options: Any) -> Any:
    return read_messages(encode_items(items), received_at=RECEIVED, max_event_bytes=32 * 1024, **options)


@pytest.mark.parametrize(("fields", "occurred_at"), [
    pytest.param({}, RECEIVED, id="no-timestamp-means-received"),
    pytest.param({"timestamp": "2026-01-01T10:00:00+02:00"}, dt.datetime(2026, 1, 1, 8, tzinfo=UTC),
                 id="offset-to-utc"),
    pytest.param({"timestamp": "2026-01-01T10:00:00"}, dt.datetime(2026, 1, 1, 10, tzinfo=UTC), id="naive-is-utc"),
    pytest.param({"timestamp": "2026-01-01T10:00Z"}, dt.datetime(2026, 1, 1, 10, tzinfo=UTC), id="no-seconds"),
    pytest.param({"timestamp": "2026-01-01"}, dt.datetime(2026, 1, 1, tzinfo=UTC), id="a-date"),
    pytest.param({"timestamp": "2026-01-01t10:00:00z"}, dt.datetime(2026, 1, 1, 10, tzinfo=UTC), id="lower-case"),
    pytest.param({"timestamp": "2026-01-01T11:00:00.123456789Z", "sentAt": "2026-01-01T11:00:01Z"},
                 dt.datetime(2026, 1, 1, 11, 59, 59, 123456, tzinfo=UTC), id="nanoseconds-and-skew"),
    pytest.param({"originalTimestamp": "2026-01-01T13:00:00Z", "sentAt": "2026-01-01T13:00:30Z"},
                 dt.datetime(2026, 1, 1, 11, 59, 30, tzinfo=UTC), id="device-clock-ahead"),
    pytest.param({"sentAt": "2026-01-01T09:00:00Z"}, RECEIVED, id="sent-at-alone-changes-nothing"),
])
def test_occurred_at_is_corrected_for_the_device_clock(fields: dict[str, Any], occurred_at: dt.datetime) -> None:
    [accepted] = read({"type": "track", "userId": "u1", "event": "X", "messageId": "m", **fields}).accepted

    assert accepted.occurred_at == occurred_at


def test_a_batch_level_sent_at_and_context_apply_to_each_message() -> None:
    body = read_batch_body(orjson.dumps({"batch": [
        {"type": "track", "userId": "u1", "event": "X", "timestamp": "2026-01-01T09:00:00Z",
         "context": {"ip": "203.0.113.9"}},
    ], "sentAt": "2026-01-01T09:00:05Z", "context": {"library": {"name": "analytics-python"}, "ip": "ignored"}}))

    [accepted] = read_messages(body.messages, received_at=RECEIVED, max_event_bytes=32 * 1024,
                               defaults=body.defaults).accepted

    assert accepted.occurred_at == dt.datetime(2026, 1, 1, 11, 59, 55, tzinfo=UTC)
    assert accepted.sent_at == dt.datetime(2026, 1, 1, 9, 0, 5, tzinfo=UTC)
    assert accepted.context() == {"library": {"name": "analytics-python"}, "ip": "203.0.113.9"}


@pytest.mark.parametrize(("item", "errors"), [
    pytest.param({"type": "track", "userId": "u1"}, [{"field": "event", "message": "is required for track"}],
                 id="track-needs-event"),
    pytest.param({"type": "group", "userId": "u1"}, [{"field": "groupId", "message": "is required for group"}],
                 id="group-needs-group-id"),
    pytest.param({"type": "alias", "anonymousId": "a"}, [
        {"field": "previousId", "message": "is required for alias"},
        {"field": "userId", "message": "is required for alias"}], id="alias-needs-both"),
    pytest.param({"type": "page", "userId": "", "anonymousId": ""},
                 [{"field": "userId", "message": "userId or anonymousId is required"}], id="empty-ids-are-missing"),
    pytest.param({"type": "track", "userId": "u1", "event": "X", "properties": [1]},
                 [{"field": "properties", "message": "must be an object"}], id="properties-object"),
    pytest.param({"type": "track", "userId": "u1", "event": "X", "timestamp": 1767225600},
                 [{"field": "timestamp", "message": "must be an ISO-8601 date-time string like "
                                                    "2026-01-31T10:00:00Z"}], id="epoch-timestamp"),
    pytest.param({"type": "track", "userId": "u1", "event": "X", "timestamp": "1767225600"},
                 [{"field": "timestamp", "message": "must be an ISO-8601 date-time string like "
                                                    "2026-01-31T10:00:00Z"}], id="epoch-string"),
    pytest.param({"type": "track", "userId": True, "event": "X"},
                 [{"field": "userId", "message": "must be a string"}], id="boolean-id"),
    pytest.param({"type": "track", "userId": "u1", "event": "X", "context": "web"},
                 [{"field": "context", "message": "must be an object"}], id="context-object"),
    pytest.param({"type": "track", "userId": "u" * 256, "event": "X"},
                 [{"field": "userId", "message": "must be at most 255 characters"}], id="long-id"),
    pytest.param({"userId": "u1"},
                 [{"field": "type", "message": "must be one of identify, track, page, screen, group, alias"}],
                 id="no-type"),
    pytest.param("track", [{"field": "", "message": "a message must be a JSON object"}], id="not-an-object"),
])
def test_a_bad_message_is_refused_with_the_field_and_why(item: Any, errors: list[dict[str, str]]) -> None:
    intake = read(item)

    assert intake.accepted == []
    assert intake.rejected == [{"index": 0, "messageId": None, "errors": errors}]


def test_numeric_ids_are_taken_as_strings() -> None:
    [accepted] = read({"type": "track", "userId": 42, "event": "X", "messageId": 7}).accepted

    assert (accepted.user_id, accepted.message_id) == ("42", "7")


def test_unknown_top_level_keys_are_ignored_and_open_places_keep_everything() -> None:
    [accepted] = read({"type": "identify", "userId": "u1", "writeKey": "k", "_metadata": {"bundled": []},
                       "traits": {"nested": {"deep": [1, {"x": None}]}}}).accepted

    assert accepted.traits() == {"nested": {"deep": [1, {"x": None}]}}


def test_a_repeated_message_id_in_one_request_is_counted_not_kept() -> None:
    intake = read(*[{"type": "track", "userId": "u1", "event": "X", "messageId": "same"}] * 3)

    assert [a.index for a in intake.accepted] == [0]
    assert intake.repeated == 2


def test_a_missing_message_id_is_generated() -> None:
    [accepted] = read({"type": "track", "userId": "u1", "event": "X"}, new_id=lambda: "generated").accepted

    assert accepted.message_id == "generated"


def test_an_oversized_message_is_refused_alone() -> None:
    big = {"type": "track", "userId": "u1", "event": "X", "properties": {"blob": "x" * 40_000}}

    intake = read(big, {"type": "track", "userId": "u1", "event": "X"})

    assert intake.rejected[0]["errors"][0]["message"].startswith("the message is 400")
    assert [a.index for a in intake.accepted] == [1]


def test_a_nul_character_is_refused_but_an_escaped_backslash_before_u0000_is_not_one() -> None:
    nul = read_messages([b'{"type": "track", "userId": "u1", "event": "X", "properties": {"p": "\\u0000"}}',
                         b'{"type": "track", "userId": "u1", "event": "X", "properties": {"p": "a\\\\u0000"}}'],
                        received_at=RECEIVED, max_event_bytes=32 * 1024)

    assert [r["index"] for r in nul.rejected] == [0]
    assert [a.index for a in nul.accepted] == [1]


def test_open_places_are_stored_as_they_came() -> None:
    raw = b'{"type": "track", "userId": "u1", "event": "X", "properties": {"b": 1,  "a": [1.50, "\\u00e9"]}}'

    [accepted] = read_messages([raw], received_at=RECEIVED, max_event_bytes=32 * 1024).accepted

    assert accepted.properties == '{"b": 1,  "a": [1.50, "\\u00e9"]}'
    assert accepted.context_text() == "{}"


def test_a_single_call_takes_its_type_from_the_endpoint() -> None:
    body = read_single_body(b'{"type": "identify", "userId": "u1", "event": "X", "writeKey": "k"}', "track")

    [accepted] = read_messages(body.messages, received_at=RECEIVED, max_event_bytes=32 * 1024).accepted

    assert (accepted.type, accepted.name, body.write_key) == ("track", "X", "k")


@pytest.mark.parametrize(("raw", "detail"), [
    (b"[]", "must be a JSON object"),
    (b'{"batch": {}}', "needs a \"batch\" list"),
    (b'{"messages": []}', "needs a \"batch\" list"),
    (b'{"batch": [], "context": []}', "context must be a JSON object"),
    (b'{"batch": [', "not valid JSON"),
])
def test_a_malformed_batch_body_says_what_is_wrong(raw: bytes, detail: str) -> None:
    with pytest.raises(MalformedBody) as raised:
        read_batch_body(raw)

    assert detail in str(raised.value)


@pytest.mark.parametrize("body", [b"", b"   ", b"{", b'{"a": 1,}', b"\xff"])
def test_parse_json_refuses_what_is_not_json(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_json(body)


def test_a_batch_level_sent_at_must_be_a_timestamp() -> None:
    with pytest.raises(MalformedBody) as raised:
        read_batch_body(b'{"batch": [], "sentAt": "yesterday"}')

    assert raised.value.errors == [{"field": "sentAt", "message": "must be an ISO-8601 date-time"}]
