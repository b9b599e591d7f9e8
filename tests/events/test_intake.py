"""Reading Segment messages, without a database: validation, limits, timestamps."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cadenza.events.errors import MalformedBody
from cadenza.events.intake import batch_items, body_needs_inspection, parse_json, read_messages

UTC = dt.UTC
RECEIVED = dt.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def read(*items: Any, **options: Any) -> Any:
    return read_messages(list(items), received_at=RECEIVED, max_event_bytes=32 * 1024, **options)


@pytest.mark.parametrize(("fields", "occurred_at"), [
    pytest.param({}, RECEIVED, id="no-timestamp-means-received"),
    pytest.param({"timestamp": "2026-01-01T10:00:00+02:00"}, dt.datetime(2026, 1, 1, 8, tzinfo=UTC),
                 id="offset-to-utc"),
    pytest.param({"timestamp": "2026-01-01T10:00:00"}, dt.datetime(2026, 1, 1, 10, tzinfo=UTC), id="naive-is-utc"),
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
    items, defaults = batch_items({"batch": [
        {"type": "track", "userId": "u1", "event": "X", "timestamp": "2026-01-01T09:00:00Z",
         "context": {"ip": "203.0.113.9"}},
    ], "sentAt": "2026-01-01T09:00:05Z", "context": {"library": {"name": "analytics-python"}, "ip": "ignored"}})

    [accepted] = read(*items, defaults=defaults).accepted

    assert accepted.occurred_at == dt.datetime(2026, 1, 1, 11, 59, 55, tzinfo=UTC)
    assert accepted.sent_at == dt.datetime(2026, 1, 1, 9, 0, 5, tzinfo=UTC)
    assert accepted.context == {"library": {"name": "analytics-python"}, "ip": "203.0.113.9"}


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
                 [{"field": "properties", "message": "Input should be a valid dictionary"}], id="properties-object"),
    pytest.param({"type": "track", "userId": "u1", "event": "X", "timestamp": 1767225600},
                 [{"field": "timestamp", "message": "Value error, must be an ISO-8601 date-time string like "
                                                    "2026-01-31T10:00:00Z"}], id="epoch-timestamp"),
    pytest.param({"type": "track", "userId": "u" * 256, "event": "X"},
                 [{"field": "userId", "message": "String should have at most 255 characters"}], id="long-id"),
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

    assert (accepted.message.user_id, accepted.message_id) == ("42", "7")


def test_unknown_top_level_keys_are_ignored_and_open_places_keep_everything() -> None:
    [accepted] = read({"type": "identify", "userId": "u1", "writeKey": "k", "_metadata": {"bundled": []},
                       "traits": {"nested": {"deep": [1, {"x": None}]}}}).accepted

    assert accepted.message.traits == {"nested": {"deep": [1, {"x": None}]}}  # type: ignore[union-attr]


def test_a_repeated_message_id_in_one_request_is_counted_not_kept() -> None:
    intake = read(*[{"type": "track", "userId": "u1", "event": "X", "messageId": "same"}] * 3)

    assert [a.index for a in intake.accepted] == [0]
    assert intake.repeated == 2


def test_a_missing_message_id_is_generated() -> None:
    [accepted] = read({"type": "track", "userId": "u1", "event": "X"}, new_id=lambda: "generated").accepted

    assert accepted.message_id == "generated"


def test_an_oversized_message_is_refused_only_when_inspected() -> None:
    big = {"type": "track", "userId": "u1", "event": "X", "properties": {"blob": "x" * 40_000}}

    assert read(big, inspect_each=True).rejected[0]["errors"][0]["message"].startswith("the message is 400")
    assert len(read(big, inspect_each=False).accepted) == 1


@pytest.mark.parametrize(("raw", "inspect"), [
    (b'{"batch": []}', False),
    (b'{"note": "\\u0000"}', True),
    (b"x" * (32 * 1024 + 1), True),
])
def test_bodies_that_need_each_message_inspected(raw: bytes, inspect: bool) -> None:
    assert body_needs_inspection(raw, 32 * 1024) is inspect


def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    item = parse_json(b'{"type": "track", "userId": "u1", "event": "X", "properties": {"path": "C:\\\\u0000"}}')

    assert read(item, inspect_each=True).rejected == []


@pytest.mark.parametrize("body", [b"", b"   ", b"{", b'{"a": 1,}', b"\xff"])
def test_parse_json_refuses_what_is_not_json(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_json(body)


def test_a_batch_level_sent_at_must_be_a_timestamp() -> None:
    with pytest.raises(MalformedBody) as raised:
        batch_items({"batch": [], "sentAt": "yesterday"})

    assert raised.value.errors == [{"field": "sentAt", "message": "must be an ISO-8601 date-time"}]
