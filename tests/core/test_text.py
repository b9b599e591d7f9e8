from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadenza.core.text import escape_csv_cell


@pytest.mark.parametrize("cell", ["=SUM(A1:A2)", "+1", "-2+3", "@cmd", "\tx", "\rx"])
def test_cells_that_start_like_a_formula_are_neutralised(cell: str) -> None:
    assert escape_csv_cell(cell) == "'" + cell


@given(st.text())
def test_escaped_cells_never_start_like_a_formula_and_keep_their_text(cell: str) -> None:
    escaped = escape_csv_cell(cell)
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert escaped.endswith(cell)
