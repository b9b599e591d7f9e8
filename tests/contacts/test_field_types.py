from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadenza.contacts.field_types import coerce
from cadenza.contacts.normalize import InvalidValue


@pytest.mark.parametrize(
    ("field_type", "raw", "stored"),
    [
        ("text", "hello", "hello"),
        ("number", "42", 42),
        ("number", "4.5", 4.5),
        ("number", 7, 7),
        ("boolean", "Yes", True),
        ("boolean", "0", False),
        ("date", "2026-01-31", "2026-01-31"),
        ("date", "31/01/2026", "2026-01-31"),
        ("date", "2026-01-05T10:00:00Z", "2026-01-05"),
        ("list", "a; b ;c", ["a", "b", "c"]),
        ("list", ["x", " y"], ["x", "y"]),
        ("text", "", None),
        ("number", None, None),
    ],
)
def test_values_are_stored_in_their_types_form(field_type: str, raw: object, stored: object) -> None:
    assert coerce(field_type, raw) == stored


@pytest.mark.parametrize(
    ("field_type", "raw", "options"),
    [
        ("number", "forty", None),
        ("number", True, None),
        ("number", "nan", None),
        ("boolean", "maybe", None),
        ("date", "yesterday", None),
        ("enum", "gold", ["free", "pro"]),
        ("list", "a,zz", ["a", "b"]),
    ],
)
def test_bad_values_say_why(field_type: str, raw: object, options: list[str] | None) -> None:
    with pytest.raises(InvalidValue):
        coerce(field_type, raw, options)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_integers_survive_a_round_trip_through_text(number: int) -> None:
    assert coerce("number", str(number)) == number
