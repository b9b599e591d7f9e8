"""Opaque cursors for keyset pagination: a cursor names the last row of the previous page."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Generic, TypeVar

from cadenza.core.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("The cursor is not one this server issued.", errors=[{"field": "cursor"}])
    if not isinstance(values, list):
        raise ValidationFailed("The cursor is not one this server issued.", errors=[{"field": "cursor"}])
    return values


def id_from_cursor(cursor: str) -> int:
    """The row id a cursor of `[id]` names (the cursor of every list ordered by id alone)."""
    values = decode_cursor(cursor)
    if len(values) != 1 or type(values[0]) is not int:
        raise ValidationFailed("The cursor is not one this server issued.", errors=[{"field": "cursor"}])
    return values[0]


def next_id_cursor(rows: Sequence[Any], limit: int, id_of: Callable[[Any], int] = attrgetter("id")) -> str | None:
    """The cursor of the page after `rows[:limit]` of a list ordered by id, when there is one: the query asks
    for `limit + 1` rows, and an extra row means more follow."""
    return encode_cursor([id_of(rows[limit - 1])]) if len(rows) > limit else None


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}.", errors=[{"field": "limit"}])
    return limit


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
