"""Pydantic I/O for events: the Segment HTTP tracking API's messages, and events as the API shows them.

Segment's open places (`properties`, `traits`, `context`, `integrations`) take any keys; unknown
top-level keys (libraries add `writeKey`, `_metadata`, `channel`, `version` …) are ignored. Where
Segment is strict we are too: ids are strings (a number is taken as its decimal string, as Segment's
own libraries send it), timestamps are ISO-8601 strings, the open places are JSON objects.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, TypeAdapter

MAX_ID = 255


def _id_string(value: Any) -> Any:
    """`42` → `"42"` (Segment accepts numeric ids as strings); true/false and floats stay invalid."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _iso_string(value: Any) -> Any:
    """Timestamps are ISO-8601 strings, as in Segment's spec; a number is ambiguous (s or ms?) and refused."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("must be an ISO-8601 date-time string like 2026-01-31T10:00:00Z")
    return value


Id = Annotated[str, StringConstraints(strict=True, max_length=MAX_ID), BeforeValidator(_id_string)]
Name = Annotated[str, StringConstraints(strict=True, max_length=MAX_ID)]
Timestamp = Annotated[dt.datetime, BeforeValidator(_iso_string)]
OpenObject = dict[str, Any]


class _Message(BaseModel):
    """The common fields of every Segment call."""

    model_config = ConfigDict(extra="ignore")

    message_id: Id | None = Field(None, alias="messageId")
    user_id: Id | None = Field(None, alias="userId")
    anonymous_id: Id | None = Field(None, alias="anonymousId")
    timestamp: Timestamp | None = None
    original_timestamp: Timestamp | None = Field(None, alias="originalTimestamp")
    sent_at: Timestamp | None = Field(None, alias="sentAt")
    context: OpenObject | None = None
    integrations: OpenObject | None = None


class IdentifyMessage(_Message):
    type: Literal["identify"]
    traits: OpenObject | None = None


class TrackMessage(_Message):
    type: Literal["track"]
    event: Name | None = None
    properties: OpenObject | None = None


class PageMessage(_Message):
    type: Literal["page"]
    name: Name | None = None
    category: Name | None = None
    properties: OpenObject | None = None


class ScreenMessage(_Message):
    type: Literal["screen"]
    name: Name | None = None
    category: Name | None = None
    properties: OpenObject | None = None


class GroupMessage(_Message):
    type: Literal["group"]
    group_id: Id | None = Field(None, alias="groupId")
    traits: OpenObject | None = None


class AliasMessage(_Message):
    type: Literal["alias"]
    previous_id: Id | None = Field(None, alias="previousId")


SegmentMessage = Annotated[
    IdentifyMessage | TrackMessage | PageMessage | ScreenMessage | GroupMessage | AliasMessage,
    Field(discriminator="type"),
]
MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")

message_adapter: TypeAdapter[
    IdentifyMessage | TrackMessage | PageMessage | ScreenMessage | GroupMessage | AliasMessage
] = TypeAdapter(SegmentMessage)


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
