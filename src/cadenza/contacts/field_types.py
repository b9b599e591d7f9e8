"""Custom field types and the coercion of raw values (from JSON, CSV or Segment traits). Pure."""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from typing import Any

from cadenza.contacts.normalize import InvalidValue


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    ENUM = "enum"
    LIST = "list"


MAX_TEXT = 10_000
_TRUE = {"true", "yes", "y", "1", "on", "t"}
_FALSE = {"false", "no", "n", "0", "off", "f"}


def coerce(field_type: FieldType | str, value: Any, options: list[str] | None = None) -> Any:
    """The stored (JSON-safe) form of `value` for a field of this type, or InvalidValue saying why.

    `None` and "" mean "no value" and return None. Dates are stored as ISO `YYYY-MM-DD` strings;
    lists as lists of strings; enum and list values must be among `options` when options are given.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = FieldType(field_type)
    if kind is FieldType.TEXT:
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_TEXT:
            raise InvalidValue(f"is longer than {MAX_TEXT} characters")
        return text
    if kind is FieldType.NUMBER:
        return _number(value)
    if kind is FieldType.BOOLEAN:
        return _boolean(value)
    if kind is FieldType.DATE:
        return _date(value)
    if kind is FieldType.ENUM:
        choice = str(value).strip()
        if options and choice not in options:
            raise InvalidValue(f"must be one of {', '.join(options)}")
        return choice
    items = _list(value)
    if options:
        unknown = [item for item in items if item not in options]
        if unknown:
            raise InvalidValue(f"has values not among the options: {', '.join(unknown)}")
    return items


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise InvalidValue("must be a number, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValue("must be a finite number")
        return value
    text = str(value).strip().replace(" ", "")
    try:
        number = float(text)
    except ValueError:
        raise InvalidValue(f"must be a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise InvalidValue("must be a finite number")
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidValue(f"must be true or false, got {str(value)[:40]!r}")


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10]).isoformat() if len(text) >= 10 else dt.date.fromisoformat(
            text).isoformat()
    except ValueError:
        pass
    for pattern in ("%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    raise InvalidValue(f"must be a date like 2026-01-31, got {text[:40]!r}")


def _list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        items = [str(item).strip() for item in value]
    else:
        separator = ";" if ";" in str(value) else ","
        items = [item.strip() for item in str(value).split(separator)]
    return [item for item in items if item]
