"""Turning one CSV row into a validated contact row, or the problems that keep it out. Pure.

Validation is the hot path of an import (a million rows should take seconds), so the common cases take
fast paths whose results are identical to the full check, and the full check runs for everything else:

* email: `contacts.normalize.clean_email` (shared with ingest): an ASCII address made only of the most common
  characters is decided by one compiled regex plus the length and reserved-name rules of email-validator;
  anything the regex does not recognise goes to email-validator itself (`normalise_email`). The fast path
  never rejects, it only accepts addresses that email-validator accepts with the same normalised form
  (tests compare the two on many inputs).
* phone: `contacts.normalize.clean_phone_number` (shared with ingest): a number written in international
  form, `+` and digits in groups (`+44 7400 123456`, `+1 415-555-0100`), skips `phonenumbers.parse` (half a
  number's cost): its country code and national number are read as parse reads them (the longest known
  calling code of up to three digits; the rest, when no national prefix could be stripped from it and it has
  no leading zero), and phonenumbers itself decides validity and writes E.164.
  Anything else, and every number the fast path does not find valid, goes to `normalise_phone`, so errors
  read the same (a hypothesis test compares both on generated numbers). Results are remembered per (value,
  region) for repeated numbers. A reader turns on phonenumbers' own cache of compiled metadata patterns
  (`phonenumbers.enable_pattern_cache`): without it every check looks each pattern up again through
  `re.compile` (~25% of a number's cost, same results).
* time zones: a zone name is checked once per import.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import phonenumbers

from cadenza.contacts.csv_source import SourceRow
from cadenza.contacts.field_types import FieldType, coerce
from cadenza.contacts.mapping import ATTRIBUTE_PREFIX, FIELD_PREFIX, IGNORE, FieldChoice
from cadenza.contacts.normalize import InvalidValue, clean_email, clean_phone_number

MAX_NAME = 200
MAX_IDENTIFIER = 255
MAX_COMPANY = 255
MAX_TAG = 100
COLUMN_MEMORY = 4_096  # distinct cells remembered per column (plans, dates, tag lists repeat a lot)

_TAG_SPLIT = re.compile(r"[,;]")


_FORMULA_STARTS = frozenset("=+-@")


@lru_cache(maxsize=65_536)
def _phone(value: str, region: str | None) -> tuple[str | None, str | None]:
    try:
        return clean_phone_number(value, region), None
    except InvalidValue as error:
        return None, str(error)


def clean_phone(value: str, region: str | None) -> str:
    number, error = _phone(value, region)
    if number is None:
        raise InvalidValue(error or "is not a phone number")
    return number


@lru_cache(maxsize=4_096)
def _zone_exists(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return False
    return True


@dataclass(slots=True)
class ContactRow:
    """One valid row: normalised values, None where the cell was empty (empty cells change nothing)."""

    line: int
    raw: str = ""
    email: str | None = None
    external_id: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None
    company: str | None = None
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    column: str | None
    message: str
    raw: str


_Check = Callable[[str], Any]
# How a column's cleaned value lands on the row: a ContactRow attribute, a key of `attributes`, or the tags.
_SET, _ATTRIBUTE, _TAGS = 0, 1, 2
# The ContactRow attributes a column can set, in the order of `RowValues`.
_SLOTS = ("email", "external_id", "phone", "first_name", "last_name", "timezone", "company")
# A valid row as plain data (cheap to send between processes): line, the `_SLOTS` values, tags, attributes
# (`import_writer.ready_to_write` turns it into what the writer takes).
RowValues = tuple[Any, ...]
# Why a row is refused: (column or None, message), one per problem.
CellProblems = list[tuple[str | None, str]]


def contact_row(values: RowValues, raw: str) -> ContactRow:
    """The ContactRow of `RowReader.check`'s plain values."""
    line, email, external_id, phone, first_name, last_name, timezone, company, tags, attributes = values
    return ContactRow(line, raw, email, external_id, phone, first_name, last_name, timezone, company, tags,
                      attributes)


class RowReader:
    """Reads rows of one file with one mapping: each row becomes a ContactRow or a list of problems."""

    def __init__(self, headers: list[str], mapping: Mapping[str, str], fields: Mapping[str, FieldChoice],
                 default_region: str | None = None) -> None:
        phonenumbers.enable_pattern_cache()  # bounded: the patterns of the metadata, compiled once
        self.width = len(headers)
        self.default_region = default_region
        self.columns: list[tuple[int, str, str, _Check, int, Any]] = []
        for index, header in enumerate(headers):
            target = mapping.get(header, IGNORE)
            if target == IGNORE:
                continue
            slot: Any
            if target == "tags":
                kind, slot = _TAGS, None
            elif target.startswith((FIELD_PREFIX, ATTRIBUTE_PREFIX)):
                kind, slot = _ATTRIBUTE, _label(target)
            else:
                kind, slot = _SET, _SLOTS.index(target)
            self.columns.append((index, header, _label(target), self._check_for(target, fields), kind, slot))

    def read(self, row: SourceRow) -> ContactRow | list[RowProblem]:
        result = self.check(row.line, row.values, row.error)
        if isinstance(result, tuple):
            return contact_row(result, row.raw)
        return [RowProblem(row.line, column, message, row.raw) for column, message in result]

    def check(self, line: int, values: list[str], error: str | None) -> RowValues | CellProblems:
        """As `read`, on plain data: the row's values, or its problems."""
        if error:
            return [(None, error)]
        count = len(values)
        if count > self.width and any(v.strip() for v in values[self.width:]):
            return [(None, f"has {count} cells but the header has {self.width}")]
        found: list[Any] = [None] * len(_SLOTS)
        tags: list[str] = []
        attributes: dict[str, Any] = {}
        problems: CellProblems | None = None
        for index, header, label, check, kind, slot in self.columns:
            if index >= count:
                continue
            value = values[index].strip()
            if not value:
                continue
            if value[0] == "'" and value[1:2] in _FORMULA_STARTS:  # escaped on export (core.text.escape_csv_cell)
                value = value[1:]
            try:
                cleaned = check(value)
            except InvalidValue as problem:
                if problems is None:
                    problems = []
                problems.append((header, f"{label} {problem}"))
                continue
            if cleaned is None:
                continue
            if kind == _SET:
                found[slot] = cleaned
            elif kind == _ATTRIBUTE:
                attributes[slot] = cleaned
            else:
                tags.extend(tag for tag in cleaned if tag not in tags)
        if problems:
            return problems
        if found[0] is None and found[1] is None and found[2] is None:
            return [(None, "needs an email, an external id or a phone number")]
        return (line, *found, tags, attributes)

    def _check_for(self, target: str, fields: Mapping[str, FieldChoice]) -> _Check:
        if target == "email":
            return clean_email
        if target == "phone":
            region = self.default_region
            return lambda value: clean_phone(value, region)
        if target in ("first_name", "last_name"):
            return _limited(MAX_NAME)
        if target == "external_id":
            return _limited(MAX_IDENTIFIER)
        if target == "company":
            return _limited(MAX_COMPANY)
        if target == "timezone":
            return _timezone
        if target == "tags":
            return _remembered(_tags)
        if target.startswith(FIELD_PREFIX):
            choice = fields[target[len(FIELD_PREFIX):]]
            options = list(choice.options) or None
            kind = FieldType(choice.type)
            coerced: _Check = lambda value: coerce(kind, value, options)  # noqa: E731
            return coerced if kind is FieldType.LIST else _remembered(coerced)  # lists are mutable: not shared
        return _limited(10_000)  # attributes.<name>: kept as text


def _remembered(check: _Check) -> _Check:
    """`check` remembered per cell value (its result or its refusal), for columns whose values repeat."""
    @lru_cache(maxsize=COLUMN_MEMORY)
    def outcome(value: str) -> tuple[Any, str | None]:
        try:
            return check(value), None
        except InvalidValue as error:
            return None, str(error)

    def remembered(value: str) -> Any:
        result, error = outcome(value)
        if error is not None:
            raise InvalidValue(error)
        return result

    return remembered


def _label(target: str) -> str:
    if target.startswith(FIELD_PREFIX):
        return target[len(FIELD_PREFIX):]
    if target.startswith(ATTRIBUTE_PREFIX):
        return target[len(ATTRIBUTE_PREFIX):]
    return target


def _limited(limit: int) -> _Check:
    def check(value: str) -> str:
        if len(value) > limit:
            raise InvalidValue(f"is longer than {limit} characters")
        return value

    return check


def _timezone(value: str) -> str:
    if not _zone_exists(value):
        raise InvalidValue("is not an IANA time zone like Europe/Paris")
    return value


def _tags(value: str) -> tuple[str, ...]:
    tags: list[str] = []
    for part in _TAG_SPLIT.split(value):
        tag = part.strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG:
            raise InvalidValue(f"has a tag longer than {MAX_TAG} characters")
        if tag not in tags:
            tags.append(tag)
    return tuple(tags)
