"""Reading Segment calls: the JSON body, Segment's size limits, validation, timestamps. Pure: no I/O.

A body is decoded once with msgspec: a batch into its messages' raw JSON bytes, then each message
alone into its Struct (`cadenza.events.schemas`), so a bad message is refused alone, with its index in
the batch and why, and the others go on. Open places (`properties`, `traits`, `context`,
`integrations`) stay as the JSON text that came, stored as it is; they are decoded only when ingest
must look inside (an identify's traits, a context that carries traits or a time zone).

Timestamps are corrected for the sender's clock skew as Segment does: when `sentAt` is known, the
event happened at `timestamp + (receivedAt - sentAt)`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from cadenza.core.clock import as_utc
from cadenza.events.errors import MalformedBody
from cadenza.events.schemas import (
    MAX_ID,
    MESSAGE_TYPES,
    AliasMessage,
    AnyMessage,
    GroupMessage,
    IdentifyMessage,
    PageMessage,
    ScreenMessage,
    TrackMessage,
    batch_decoder,
    message_decoder,
)
from cadenza.storage import JSONText, json_loads

Problem = dict[str, str]

# PostgreSQL stores no NUL character in text or jsonb: a message holding one is refused alone.
_NUL = re.compile(rb'(?<!\\)(?:\\\\)*\\u0000')
_EMPTY = JSONText("{}")
_any_decoder = msgspec.json.Decoder()
_ID_FIELDS = frozenset({"messageId", "userId", "anonymousId", "groupId", "previousId"})
_NAME_FIELDS = frozenset({"event", "name", "category"})
_TIME_FIELDS = frozenset({"timestamp", "originalTimestamp", "sentAt"})
_ISO_EXAMPLE = "must be an ISO-8601 date-time string like 2026-01-31T10:00:00Z"
_KIND: dict[type, str] = {IdentifyMessage: "identify", TrackMessage: "track", PageMessage: "page",
                          ScreenMessage: "screen", GroupMessage: "group", AliasMessage: "alias"}
_ERROR_AT = re.compile(r"^(?P<why>.*?)(?: - at `\$(?:\.(?P<path>[^`]*))?`)?$", re.DOTALL)


def new_message_id() -> str:
    return f"api-{uuid.uuid4()}"


@dataclass(slots=True, eq=False)
class Accepted:
    """A valid message, normalised: ids as strings, times in UTC, open places as JSON text."""

    index: int
    type: str
    message_id: str
    user_id: str | None
    anonymous_id: str | None
    occurred_at: dt.datetime
    sent_at: dt.datetime | None
    name: str  # track: the event; page/screen: the name ("" when absent); other calls: their type
    category: str | None
    group_id: str | None
    previous_id: str | None
    properties: JSONText  # track/page/screen: properties; identify/group: traits
    integrations: JSONText
    _context_text: JSONText | None
    _context: dict[str, Any] | None = None
    _traits: dict[str, Any] | None = None

    def context(self) -> dict[str, Any]:
        if self._context is None:
            self._context = json_loads(self._context_text.encode()) if self._context_text is not None else {}
        return self._context

    def context_text(self) -> JSONText:
        if self._context_text is None:
            self._context_text = JSONText(orjson.dumps(self._context or {}).decode())
        return self._context_text

    def add_to_context(self, key: str, value: Any) -> None:
        self._context = {**self.context(), key: value}
        self._context_text = None

    def traits(self) -> dict[str, Any]:
        """identify/group: the call's own traits."""
        if self._traits is None:
            self._traits = json_loads(self.properties.encode()) if self.type in ("identify", "group") else {}
        return self._traits

    def context_traits(self) -> dict[str, Any]:
        """`context.traits`: what a call says about its person besides identify's own traits."""
        if self._context is None and (self._context_text is None or '"traits"' not in self._context_text):
            return {}
        traits = self.context().get("traits")
        return traits if isinstance(traits, dict) else {}


@dataclass
class BatchDefaults:
    """What a batch body may say once for all its messages (Segment's batch-level fields)."""

    sent_at: dt.datetime | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None


@dataclass
class Intake:
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    repeated: int = 0  # messages whose messageId came earlier in the same request


@dataclass
class Body:
    """A request body taken apart: each message's raw JSON, the batch-level defaults, a `writeKey`."""

    messages: list[bytes]
    defaults: BatchDefaults | None = None
    write_key: str | None = None


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise MalformedBody("The body is empty; send a JSON object.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise MalformedBody(f"The body is not valid JSON: {error}.") from None


def read_batch_body(raw: bytes) -> Body:
    """A `/v1/batch` body: `{"batch": [ … ], "sentAt"?, "context"?, "integrations"?, "writeKey"?}`."""
    try:
        body = batch_decoder.decode(raw)
    except msgspec.DecodeError:
        _explain_bad_batch(raw)
        raise MalformedBody("The body needs a \"batch\" list of messages.") from None
    defaults = BatchDefaults()
    sent_at_value = _loads(body.sent_at)
    if sent_at_value is not None:
        sent_at = _timestamp(sent_at_value)
        if sent_at is None:
            raise MalformedBody("sentAt must be an ISO-8601 date-time.",
                                errors=[{"field": "sentAt", "message": "must be an ISO-8601 date-time"}])
        defaults.sent_at = sent_at
    for name in ("context", "integrations"):
        value = _loads(getattr(body, name))
        if value is not None and not isinstance(value, dict):
            raise MalformedBody(f"{name} must be a JSON object.",
                                errors=[{"field": name, "message": "must be an object"}])
        setattr(defaults, name, value or None)
    write_key = _loads(body.write_key)
    return Body([bytes(item) for item in body.batch], defaults, write_key if isinstance(write_key, str) else None)


def read_single_body(raw: bytes, kind: str) -> Body:
    """The body of `/v1/<kind>`: one message, whose type the endpoint names."""
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise MalformedBody("The body must be a JSON object: one Segment message.")
    body["type"] = kind
    write_key = body.get("writeKey")
    return Body([orjson.dumps(body)], None, write_key if isinstance(write_key, str) else None)


def encode_items(items: Iterable[Any]) -> list[bytes]:
    """Messages given as Python values (parsed JSON), as the raw JSON `read_messages` takes."""
    return [orjson.dumps(item, option=orjson.OPT_NON_STR_KEYS) for item in items]


def read_messages(raws: list[bytes], *, received_at: dt.datetime, max_event_bytes: int,
                  defaults: BatchDefaults | None = None, new_id: Callable[[], str] = new_message_id) -> Intake:
    """Validates each message (its raw JSON) alone: size, NUL characters, types, what each call needs."""
    intake = Intake()
    defaults = defaults or BatchDefaults()
    default_context = defaults.context
    default_integrations = JSONText(orjson.dumps(defaults.integrations).decode()) if defaults.integrations else None
    seen: set[str] = set()
    for index, raw in enumerate(raws):
        problems: list[Problem]
        accepted = None
        try:
            accepted = _accept(index, raw, max_event_bytes, received_at, defaults.sent_at, new_id)
        except _Refused as refused:
            problems = refused.problems
        except msgspec.ValidationError as error:
            problems = [_problem(str(error))]
        if accepted is None:
            intake.rejected.append({"index": index, "messageId": _message_id_of(raw), "errors": problems})
            continue
        if accepted.message_id in seen:
            intake.repeated += 1
            continue
        seen.add(accepted.message_id)
        if default_context:
            accepted._context = {**default_context, **accepted.context()}
            accepted._context_text = None
        if default_integrations is not None and accepted.integrations is _EMPTY:
            accepted.integrations = default_integrations
        intake.accepted.append(accepted)
    return intake


class _Refused(Exception):
    def __init__(self, *problems: Problem) -> None:
        self.problems = list(problems)


def _accept(index: int, raw: bytes, max_event_bytes: int, received_at: dt.datetime,
            batch_sent_at: dt.datetime | None, new_id: Callable[[], str]) -> Accepted:
    if len(raw) > max_event_bytes:
        raise _Refused({"field": "", "message": f"the message is {len(raw)} bytes; at most {max_event_bytes} are "
                                                "accepted per message"})
    if b"\\u0000" in raw and _NUL.search(raw):
        raise _Refused({"field": "", "message": "contains a NUL character (\\u0000), which cannot be stored"})
    if raw[:1] != b"{":
        raise _Refused({"field": "", "message": "a message must be a JSON object"})
    try:
        _any_decoder.decode(raw)  # the open places are kept raw: this reads each number once (~2 us a message)
    except msgspec.DecodeError:
        raise _Refused({"field": "", "message": "holds a number out of range"}) from None
    message: AnyMessage = message_decoder.decode(raw)
    user_id, anonymous_id = _id(message.user_id), _id(message.anonymous_id)
    kind = _KIND[type(message)]
    name = kind
    category = group_id = previous_id = None
    properties = _EMPTY
    if isinstance(message, AliasMessage):
        previous_id = _id(message.previous_id)
        missing = [{"field": key, "message": "is required for alias"}
                   for key, value in (("previousId", previous_id), ("userId", user_id)) if not value]
        if missing:
            raise _Refused(*missing)
    elif user_id is None and anonymous_id is None:
        raise _Refused({"field": "userId", "message": "userId or anonymousId is required"})
    if isinstance(message, TrackMessage):
        if not message.event:
            raise _Refused({"field": "event", "message": "is required for track"})
        name, properties = message.event, _object(message.properties, "properties")
    elif isinstance(message, PageMessage | ScreenMessage):
        name, category, properties = message.name or "", message.category, _object(message.properties, "properties")
    elif isinstance(message, IdentifyMessage):
        properties = _object(message.traits, "traits")
    elif isinstance(message, GroupMessage):
        group_id = _id(message.group_id)
        if group_id is None:
            raise _Refused({"field": "groupId", "message": "is required for group"})
        properties = _object(message.traits, "traits")
    context = _object(message.context, "context")
    integrations = _object(message.integrations, "integrations")
    occurred_at, sent_at = _times(message, received_at, batch_sent_at)
    return Accepted(index, kind, _id(message.message_id) or new_id(), user_id, anonymous_id, occurred_at,
                    sent_at, name, category, group_id, previous_id, properties, integrations,
                    None if context is _EMPTY else context)


def _id(value: str | int | None) -> str | None:
    """Ids as strings; "" counts as absent."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _object(raw: msgspec.Raw, name: str) -> JSONText:
    """An open place's JSON text; null or absent is {}; anything but an object is refused."""
    data = bytes(raw)
    first = data[:1]
    if first == b"{":
        return JSONText(data.decode()) if data != b"{}" else _EMPTY
    if data == b"null":
        return _EMPTY
    raise _Refused({"field": name, "message": "must be an object"})


def _timestamp(value: Any) -> dt.datetime | None:
    """An ISO-8601 date-time in UTC (naive means UTC), or None when `value` is not one."""
    if not isinstance(value, str):
        return None
    try:
        return as_utc(dt.datetime.fromisoformat(value))
    except ValueError:
        try:
            return as_utc(dt.datetime.fromisoformat(value.upper()))  # "…t10:00:00z"
        except ValueError:
            return None
    except OverflowError:
        return None


def _times(message: AnyMessage, received_at: dt.datetime,
           batch_sent_at: dt.datetime | None) -> tuple[dt.datetime, dt.datetime | None]:
    """(occurred_at, sent_at) in UTC, with Segment's clock-skew correction when sentAt is known."""
    sent_at = batch_sent_at
    if message.sent_at is not None:
        sent_at = _timestamp(message.sent_at)
        if sent_at is None:
            raise _Refused({"field": "sentAt", "message": _ISO_EXAMPLE})
    base_text, field_name = message.timestamp, "timestamp"
    if base_text is None:
        base_text, field_name = message.original_timestamp, "originalTimestamp"
    if base_text is None:
        return received_at, sent_at
    base = _timestamp(base_text)
    if base is None:
        raise _Refused({"field": field_name, "message": _ISO_EXAMPLE})
    try:
        return (base + (received_at - sent_at) if sent_at is not None else base), sent_at
    except OverflowError:
        raise _Refused({"field": field_name, "message": "is out of range"}) from None


def _problem(error: str) -> Problem:
    """msgspec's "Expected `str`, got `int` - at `$.userId`" in the words of our other errors."""
    match = _ERROR_AT.match(error)
    why, path = (match.group("why"), match.group("path") or "") if match else (error, "")
    if path == "type" or why.startswith("Object missing required field `type`"):
        return {"field": "type", "message": f"must be one of {', '.join(MESSAGE_TYPES)}"}
    if path in _TIME_FIELDS:
        return {"field": path, "message": _ISO_EXAMPLE}
    if path in _ID_FIELDS or path in _NAME_FIELDS:
        if "length" in why:
            return {"field": path, "message": f"must be at most {MAX_ID} characters"}
        return {"field": path, "message": "must be a string"}
    return {"field": path, "message": why}


def _message_id_of(raw: bytes) -> str | None:
    try:
        item = json.loads(raw)  # the standard library reads any number (1e400 is inf), for the answer's sake
    except ValueError:
        return None
    message_id = item.get("messageId") if isinstance(item, dict) else None
    return message_id if isinstance(message_id, str) else None


def _loads(raw: msgspec.Raw) -> Any:
    return orjson.loads(bytes(raw))


def _explain_bad_batch(raw: bytes) -> None:
    """Raises the MalformedBody that says what is wrong with a body msgspec refused."""
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise MalformedBody("The body must be a JSON object like {\"batch\": [ … ]}.")
    if not isinstance(body.get("batch"), list):
        raise MalformedBody("The body needs a \"batch\" list of messages.",
                            errors=[{"field": "batch", "message": "must be a list of messages"}])
