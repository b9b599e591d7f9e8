"""Reading Segment calls: the JSON body, Segment's size limits, validation, timestamps. Pure: no I/O.

A bad message is refused alone, with its index in the batch and why; the others go on. Timestamps are
corrected for the sender's clock skew as Segment does: when `sentAt` is known, the event happened at
`timestamp + (receivedAt - sentAt)`.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from cadenza.core.clock import as_utc
from cadenza.events.errors import MalformedBody
from cadenza.events.schemas import (
    MESSAGE_TYPES,
    AliasMessage,
    GroupMessage,
    IdentifyMessage,
    PageMessage,
    ScreenMessage,
    Timestamp,
    TrackMessage,
    message_adapter,
)

AnyMessage = IdentifyMessage | TrackMessage | PageMessage | ScreenMessage | GroupMessage | AliasMessage
Problem = dict[str, str]

# PostgreSQL stores no NUL character in text or jsonb: a message holding one is refused alone.
_NUL = re.compile(rb'(?<!\\)(?:\\\\)*\\u0000')
_timestamp_adapter: TypeAdapter[dt.datetime] = TypeAdapter(Timestamp)


def new_message_id() -> str:
    return f"api-{uuid.uuid4()}"


@dataclass(slots=True)
class Accepted:
    """A valid message, with what the ingest service needs computed once."""

    index: int
    message: AnyMessage
    message_id: str
    occurred_at: dt.datetime
    sent_at: dt.datetime | None
    context: dict[str, Any]


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


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise MalformedBody("The body is empty; send a JSON object.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise MalformedBody(f"The body is not valid JSON: {error}.") from None


def batch_items(body: Any) -> tuple[list[Any], BatchDefaults]:
    """The messages of a `/v1/batch` body and its batch-level `sentAt`, `context` and `integrations`."""
    if not isinstance(body, dict):
        raise MalformedBody("The body must be a JSON object like {\"batch\": [ … ]}.")
    items = body.get("batch")
    if not isinstance(items, list):
        raise MalformedBody("The body needs a \"batch\" list of messages.",
                            errors=[{"field": "batch", "message": "must be a list of messages"}])
    defaults = BatchDefaults()
    try:
        if body.get("sentAt") is not None:
            defaults.sent_at = as_utc(_timestamp_adapter.validate_python(body["sentAt"]))
    except ValidationError:
        raise MalformedBody("sentAt must be an ISO-8601 date-time.",
                            errors=[{"field": "sentAt", "message": "must be an ISO-8601 date-time"}]) from None
    for name in ("context", "integrations"):
        value = body.get(name)
        if value is not None and not isinstance(value, dict):
            raise MalformedBody(f"{name} must be a JSON object.",
                                errors=[{"field": name, "message": "must be an object"}])
        setattr(defaults, name, value or None)
    return items, defaults


def read_messages(items: list[Any], *, received_at: dt.datetime, max_event_bytes: int, inspect_each: bool = True,
                  defaults: BatchDefaults | None = None, new_id: Callable[[], str] = new_message_id) -> Intake:
    """Validates each message alone. `inspect_each=False` skips measuring each message and looking for NUL
    characters: for a body smaller than one message's limit, with no NUL escape in it (`body_needs_inspection`)."""
    intake = Intake()
    defaults = defaults or BatchDefaults()
    seen: set[str] = set()
    for index, item in enumerate(items):
        problems = _size_problems(item, max_event_bytes, inspect_each)
        message: AnyMessage | None = None
        if not problems:
            try:
                message = message_adapter.validate_python(item)
            except ValidationError as error:
                problems = _validation_problems(error)
        if message is not None and not problems:
            problems = _missing(message)
        occurred_at = sent_at = None
        if message is not None and not problems:
            try:
                occurred_at, sent_at = _times(message, received_at, defaults.sent_at)
            except OverflowError:
                problems = [{"field": "timestamp", "message": "is out of range"}]
        if problems or message is None or occurred_at is None:
            message_id = item.get("messageId") if isinstance(item, dict) else None
            intake.rejected.append({"index": index, "messageId": message_id if isinstance(message_id, str) else None,
                                    "errors": problems})
            continue
        message_id = message.message_id or new_id()
        if message_id in seen:
            intake.repeated += 1
            continue
        seen.add(message_id)
        context = message.context or {}
        if defaults.context:
            context = {**defaults.context, **context}
        if defaults.integrations and not message.integrations:
            message.integrations = defaults.integrations
        intake.accepted.append(Accepted(index, message, message_id, occurred_at, sent_at, context))
    return intake


def _size_problems(item: Any, max_event_bytes: int, inspect_each: bool) -> list[Problem]:
    if not isinstance(item, dict):
        return [{"field": "", "message": "a message must be a JSON object"}]
    if not inspect_each:
        return []
    encoded = orjson.dumps(item)
    if len(encoded) > max_event_bytes:
        return [{"field": "", "message": f"the message is {len(encoded)} bytes; at most {max_event_bytes} are "
                                         "accepted per message"}]
    if b"\\u0000" in encoded and _NUL.search(encoded):
        return [{"field": "", "message": "contains a NUL character (\\u0000), which cannot be stored"}]
    return []


def _validation_problems(error: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for detail in error.errors(include_url=False, include_context=False, include_input=False):
        kind = detail["type"]
        if kind in ("union_tag_not_found", "union_tag_invalid"):
            problems.append({"field": "type", "message": f"must be one of {', '.join(MESSAGE_TYPES)}"})
            continue
        loc = detail["loc"]
        if loc and loc[0] in MESSAGE_TYPES:
            loc = loc[1:]
        problems.append({"field": ".".join(str(part) for part in loc), "message": detail["msg"]})
    return problems


def _missing(message: AnyMessage) -> list[Problem]:
    """What Segment requires beyond types: who the call is about, and each call's own key field."""
    # "" counts as absent. Assigning only then: a pydantic model's __setattr__ is not cheap.
    if message.user_id == "":
        message.user_id = None
    if message.anonymous_id == "":
        message.anonymous_id = None
    if isinstance(message, AliasMessage):
        if message.previous_id == "":
            message.previous_id = None
        return [{"field": name, "message": "is required for alias"}
                for name, value in (("previousId", message.previous_id), ("userId", message.user_id)) if not value]
    if message.user_id is None and message.anonymous_id is None:
        return [{"field": "userId", "message": "userId or anonymousId is required"}]
    if isinstance(message, TrackMessage) and not message.event:
        return [{"field": "event", "message": "is required for track"}]
    if isinstance(message, GroupMessage):
        if message.group_id == "":
            message.group_id = None
        if message.group_id is None:
            return [{"field": "groupId", "message": "is required for group"}]
    return []


def _times(message: AnyMessage, received_at: dt.datetime,
           batch_sent_at: dt.datetime | None) -> tuple[dt.datetime, dt.datetime | None]:
    """(occurred_at, sent_at) in UTC, with Segment's clock-skew correction when sentAt is known."""
    base = message.timestamp or message.original_timestamp
    sent_at = as_utc(message.sent_at) if message.sent_at is not None else batch_sent_at
    if base is None:
        return received_at, sent_at
    occurred_at = as_utc(base)
    if sent_at is not None:
        occurred_at = occurred_at + (received_at - sent_at)
    return occurred_at, sent_at


def body_needs_inspection(raw: bytes, max_event_bytes: int) -> bool:
    """Whether each message of this body must be measured and searched for NUL escapes."""
    return len(raw) > max_event_bytes or b"\\u0000" in raw
