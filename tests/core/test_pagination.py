from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadenza.core.errors import ValidationFailed
from cadenza.core.pagination import MAX_LIMIT, clamp_limit, decode_cursor, encode_cursor

cursor_values = st.lists(st.one_of(st.integers(), st.text(max_size=30), st.none()), min_size=1, max_size=4)


@given(cursor_values)
def test_a_cursor_decodes_to_what_was_encoded(values: list[object]) -> None:
    assert decode_cursor(encode_cursor(values)) == values


@pytest.mark.parametrize("cursor", ["not base64!", "e30", "bnVsbA"], ids=["garbage", "object", "null"])
def test_a_foreign_cursor_is_a_validation_error(cursor: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor)


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1])
def test_limits_outside_the_range_are_refused(limit: int) -> None:
    with pytest.raises(ValidationFailed):
        clamp_limit(limit)


def test_no_limit_means_the_default() -> None:
    assert clamp_limit(None) == 50
    assert clamp_limit(MAX_LIMIT) == MAX_LIMIT
