"""Pydantic I/O for contacts, companies, tags and custom field definitions.

Writes are strict (`extra="forbid"`): an unknown top-level key is a 422, never silently dropped.
In `*Update` models a key that is absent means "leave as is" and `null` means "clear it"
(`model_fields_set` tells them apart); in `attributes` a `null` value removes that key.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    model_validator,
)

from cadenza.contacts.field_types import FieldType

FIELD_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_TAG_LENGTH = 100
MAX_TAGS_PER_REQUEST = 100
MAX_ID = 2**63 - 1

Entity = Literal["contact", "company"]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=255)]
TagText = Annotated[str, StringConstraints(max_length=200)]
EntityId = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]


def _iso_only(value: Any) -> Any:
    """Pydantic would read `12345` as a Unix time; the API documents ISO 8601 date-times only."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("must be an ISO 8601 date-time like 2026-01-31T12:00:00Z")
    if isinstance(value, str) and not re.match(r"\s*\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be an ISO 8601 date-time like 2026-01-31T12:00:00Z")
    return value


IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_only)]


def _reject_unstorable_text(value: Any) -> Any:
    """NUL and lone surrogates cannot be stored (PostgreSQL refuses them): a 422, not a 500."""
    if isinstance(value, str):
        if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
            raise ValueError("contains a NUL character or a lone surrogate")
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_unstorable_text(key)
            _reject_unstorable_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_unstorable_text(item)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return _reject_unstorable_text(data)


# ---- companies -------------------------------------------------------------------------------


class CompanySummary(BaseModel):
    """The company a contact belongs to, as shown on the contact."""

    id: int
    name: str


class CompanyOut(BaseModel):
    id: int
    name: str
    domain: str | None = None
    external_id: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: dt.datetime
    updated_at: dt.datetime


class CompanyCreate(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    domain: Annotated[str, StringConstraints(max_length=255)] | None = None
    external_id: Identifier | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class CompanyUpsert(_Strict):
    """Matched on `external_id` when given, else on `domain`; created when nothing matches."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    domain: Annotated[str, StringConstraints(max_length=255)] | None = None
    external_id: Identifier | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class CompanyUpdate(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    domain: Annotated[str, StringConstraints(max_length=255)] | None = None
    external_id: Identifier | None = None
    attributes: dict[str, Any] | None = None


class CompanyPage(BaseModel):
    data: list[CompanyOut]
    next_cursor: str | None = None


# ---- contacts --------------------------------------------------------------------------------


class ContactOut(BaseModel):
    id: int
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    external_id: str | None = None
    timezone: str | None = None
    company_id: int | None = None
    company: CompanySummary | None = None
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: dt.datetime
    updated_at: dt.datetime
    last_seen_at: dt.datetime | None = None


class ContactCreate(_Strict):
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    external_id: Identifier | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    company_id: EntityId | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, description="Custom field values by field key.")
    tags: list[TagText] = Field(default_factory=list, max_length=MAX_TAGS_PER_REQUEST)


class ContactUpsert(ContactCreate):
    """Matched on `external_id` when given, else on `email`; created when nothing matches."""


class ContactUpdate(_Strict):
    """A partial update: absent keys stay, `null` clears; `attributes` merge key by key (`null` removes one)."""

    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    external_id: Identifier | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    company_id: EntityId | None = None
    attributes: dict[str, Any] | None = None


class ContactFilters(BaseModel):
    """Filters of the contact list. All are combined with AND."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return _reject_unstorable_text(data)

    q: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="Prefix of the email, first or last name, phone or external id.")
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    tag: TagText | None = None
    company_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    created_after: IsoDateTime | None = None
    created_before: IsoDateTime | None = None
    updated_after: IsoDateTime | None = None
    attributes: dict[str, str] = Field(default_factory=dict, description="Custom field equality, by key.")


class ContactPage(BaseModel):
    data: list[ContactOut]
    next_cursor: str | None = None


class TagsIn(_Strict):
    tags: list[TagText] = Field(min_length=1, max_length=MAX_TAGS_PER_REQUEST)


# ---- custom fields ---------------------------------------------------------------------------


class FieldOut(BaseModel):
    id: int
    entity: Entity
    key: str
    label: str
    type: FieldType
    options: list[str] = Field(default_factory=list)
    is_required: bool
    is_personal: bool
    created_at: dt.datetime


class FieldCreate(_Strict):
    key: Annotated[str, StringConstraints(pattern=FIELD_KEY_PATTERN)]
    label: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: FieldType
    options: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=500)
    is_required: StrictBool = False
    is_personal: StrictBool = False
    entity: Entity = "contact"


class FieldUpdate(_Strict):
    """Label, options and flags may change. `type` is accepted only to refuse a change with a clear 409."""

    label: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    options: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = Field(
        None, max_length=500)
    is_required: StrictBool | None = None
    is_personal: StrictBool | None = None
    type: FieldType | None = None


class FieldList(BaseModel):
    data: list[FieldOut]
