from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadenza.core.errors import ValidationFailed
from cadenza.core.pagination import MAX_LIMIT, clamp_limit, decode_cursor, encode_cursor, id_from_cursor, next_id_cursor

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


@given(ids=st.lists(st.integers(min_value=1), max_size=12), limit=st.integers(min_value=1, max_value=10))
def test_the_next_id_cursor_names_the_last_row_shown_only_when_more_rows_follow(ids: list[int], limit: int) -> None:
    rows = [SimpleNamespace(id=value) for value in ids]
    cursor = next_id_cursor(rows, limit)
    if len(rows) <= limit:
        assert cursor is None
    else:
        assert cursor is not None and id_from_cursor(cursor) == ids[limit - 1]
