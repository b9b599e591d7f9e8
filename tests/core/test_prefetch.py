"""core.prefetch: items made ahead in a thread, in order, errors raised to the caller, closed when the caller stops."""

from __future__ import annotations

import threading
from collections.abc import Generator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadenza.core.prefetch import prefetched


@given(st.lists(st.integers()), st.integers(min_value=1, max_value=4))
def test_items_come_in_order(items: list[int], depth: int) -> None:
    assert list(prefetched(iter(items), depth)) == items


def test_an_error_is_raised_to_the_caller_after_the_items_before_it() -> None:
    def failing() -> Generator[int, None, None]:
        yield 1
        yield 2
        raise ValueError("bad row")

    got: list[int] = []
    with pytest.raises(ValueError, match="bad row"):
        for item in prefetched(failing()):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_closes_the_source_in_its_own_thread_and_makes_only_depth_ahead() -> None:
    made: list[int] = []
    closed_in: list[str] = []

    def source() -> Generator[int, None, None]:
        try:
            for i in range(1_000):
                made.append(i)
                yield i
        finally:
            closed_in.append(threading.current_thread().name)

    items = prefetched(source(), 2, name="reader")
    assert next(items) == 0
    items.close()

    assert closed_in == ["reader"]
    assert len(made) <= 1 + 2 + 1  # the one taken, `depth` waiting, one being offered


def test_a_caller_that_fails_stops_the_thread() -> None:
    closed = threading.Event()

    def source() -> Generator[int, None, None]:
        try:
            while True:
                yield 1
        finally:
            closed.set()

    with pytest.raises(RuntimeError):
        for _item in prefetched(source()):
            raise RuntimeError("the write failed")
    assert closed.is_set()
