"""Small pure text helpers shared by several domains."""

from __future__ import annotations

import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_csv_cell(value: str) -> str:
    """Neutralise spreadsheet formula injection: a cell that starts like a formula gets a quote."""
    if value and value.startswith(_FORMULA_START):
        return "'" + value
    return value


_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(value: str) -> str:
    return _SLUG.sub("_", value.strip().lower()).strip("_")
