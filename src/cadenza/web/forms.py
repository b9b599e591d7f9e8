"""Reading HTML forms: text values, optional values, and errors shown beside their fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from cadenza.core.errors import CadenzaError


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional_text(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def optional_int(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        return None


def optional_date(value: str | None) -> dt.datetime | None:
    """An `<input type=date>` value as the start of that day in UTC; None when empty or malformed."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _friendly(message: str) -> str:
    message = message.removeprefix("Value error, ")
    return message[:1].upper() + message[1:] if message else "This value is not valid."


def sentence(message: str) -> str:
    """A service's fragment ("is not a valid email") as a sentence for the page."""
    message = message.strip()
    if message.startswith(("is ", "must ", "has ", "cannot ", "should ", "needs ")):
        message = "This value " + message
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


def errors_from_validation(error: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        name = location[0] if location else "form"
        errors.setdefault(name, sentence(_friendly(str(item.get("msg", "")))))
    return errors


def errors_from_failure(failure: CadenzaError, default_field: str = "form") -> dict[str, str]:
    """Field errors of a domain failure (its `errors` list), else its detail on `default_field`."""
    errors: dict[str, str] = {}
    for item in failure.errors:
        name = str(item.get("field") or default_field)
        if name.startswith("attributes."):
            name = "attr." + name.removeprefix("attributes.")
        message: Any = item.get("message") or item.get("detail") or failure.detail
        errors.setdefault(name, sentence(str(message)))
    if not errors:
        errors[default_field] = failure.detail
    return errors
