"""I/O for events: the Segment HTTP tracking API's messages as they arrive, and events as the API shows them.

Incoming messages are msgspec Structs, decoded straight from each message's raw JSON bytes: the
validation Segment asks for costs a few microseconds a message. Segment's open places (`properties`,
`traits`, `context`, `integrations`) take any keys and stay raw JSON (`msgspec.Raw`): they are stored
as they came and decoded only when ingest needs to look inside. Unknown top-level keys (libraries add
`writeKey`, `_metadata`, `channel`, `version` …) are ignored. Where Segment is strict we are too: ids
are strings (a number is taken as its decimal string, as Segment's own libraries send it), timestamps
are ISO-8601 strings, the open places are JSON objects (checked by `cadenza.events.intake`).

The answers (`IngestAnswer`, `EventOut`) are pydantic models, for the OpenAPI document.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, Field

MAX_ID = 255
NULL = msgspec.Raw(b"null")

# An id is a string or a whole number (taken as its decimal string); true/false and floats are refused.
Id = Annotated[str, msgspec.Meta(max_length=MAX_ID)] | int | None
Name = Annotated[str, msgspec.Meta(max_length=MAX_ID)] | None
Timestamp = str | None  # parsed by the intake: ISO-8601 in any of its spellings, never a number


class Message(msgspec.Struct, tag_field="type", rename="camel", kw_only=True):
    """The common fields of every Segment call."""

    message_id: Id = None
    user_id: Id = None
    anonymous_id: Id = None
    timestamp: Timestamp = None
    original_timestamp: Timestamp = None
    sent_at: Timestamp = None
    context: msgspec.Raw = NULL
    integrations: msgspec.Raw = NULL


class IdentifyMessage(Message, tag="identify"):
    traits: msgspec.Raw = NULL


class TrackMessage(Message, tag="track"):
    event: Name = None
    properties: msgspec.Raw = NULL


class _Viewed(Message):
    """What page and screen calls share."""

    name: Name = None
    category: Name = None
    properties: msgspec.Raw = NULL


class PageMessage(_Viewed, tag="page"):
    pass


class ScreenMessage(_Viewed, tag="screen"):
    pass


class GroupMessage(Message, tag="group"):
    group_id: Id = None
    traits: msgspec.Raw = NULL


class AliasMessage(Message, tag="alias"):
    previous_id: Id = None


AnyMessage = IdentifyMessage | TrackMessage | PageMessage | ScreenMessage | GroupMessage | AliasMessage
MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
message_decoder = msgspec.json.Decoder(AnyMessage)


class BatchBody(msgspec.Struct, rename="camel"):
    """A `/v1/batch` body: the messages stay raw, each is decoded (and refused) alone."""

    batch: list[msgspec.Raw]
    sent_at: msgspec.Raw = NULL
    context: msgspec.Raw = NULL
    integrations: msgspec.Raw = NULL
    write_key: msgspec.Raw = NULL


batch_decoder = msgspec.json.Decoder(BatchBody)


# ---- answers ---------------------------------------------------------------------------------


class FieldProblem(BaseModel):
    field: str
    message: str


class RejectedMessage(BaseModel):
    index: int
    messageId: str | None = None  # Segment's spelling
    errors: list[FieldProblem]


class IngestAnswer(BaseModel):
    success: bool = True
    duplicates: int | None = Field(None, description="Messages skipped because their messageId was stored before.")
    rejected: list[RejectedMessage] | None = Field(None, description="Messages of a batch refused, with why.")


class EventOut(BaseModel):
    """One stored event, as the timeline and the events API show it."""

    id: int
    type: str
    name: str
    message_id: str
    contact_id: int | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    group_id: str | None = None
    previous_id: str | None = None
    category: str | None = None
    occurred_at: dt.datetime
    received_at: dt.datetime
    sent_at: dt.datetime | None = None
    properties: dict[str, Any] = Field(default_factory=dict, description="Properties (track/page/screen) or "
                                                                         "traits (identify/group).")
    context: dict[str, Any] = Field(default_factory=dict)
    integrations: dict[str, Any] = Field(default_factory=dict)
    source: str = "api"


class EventPage(BaseModel):
    data: list[EventOut]
    next_cursor: str | None = None
