"""Group commit: every item is written once, in order; a bad item fails alone; no caller is left waiting."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.core.group_commit import GroupCommit


class _Store:
    """A write that holds its first call until released, so that the others queue behind it."""

    def __init__(self, bad: frozenset[int] = frozenset()) -> None:
        self.bad = bad
        self.groups: list[list[int]] = []
        self.written: list[int] = []
        self.first_started = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def write(self, items: Sequence[int]) -> None:
        if not self.first_started.is_set():
            self.first_started.set()
            assert self.release.wait(10)
        with self._lock:
            self.groups.append(list(items))
            if self.bad & set(items):
                raise ValueError(f"bad items {sorted(self.bad & set(items))}")
            self.written.extend(items)  # all or nothing, as one transaction


def _submit_all(commit: GroupCommit[int], store: _Store, items: list[int]) -> dict[int, BaseException | None]:
    """Submits items[0] first (its write waits), then the others, each from its own thread, in order."""
    outcomes: dict[int, BaseException | None] = {}

    def submit(item: int) -> None:
        try:
            commit.submit(item)
            outcomes[item] = None
        except Exception as error:
            outcomes[item] = error

    first = threading.Thread(target=submit, args=(items[0],))
    first.start()
    assert store.first_started.wait(10)
    others = []
    for item in items[1:]:
        thread = threading.Thread(target=submit, args=(item,))
        thread.start()
        others.append(thread)
        _wait_queued(commit, len(others))
    store.release.set()
    for thread in [first, *others]:
        thread.join(10)
        assert not thread.is_alive()
    return outcomes


def _wait_queued(commit: GroupCommit[int], count: int) -> None:
    for _ in range(1000):
        with commit._condition:
            if len(commit._pending) >= count:
                return
        threading.Event().wait(0.002)
    raise AssertionError("the submissions did not queue")


def test_requests_that_arrive_during_a_write_go_together_in_the_next_one_in_order() -> None:
    store = _Store()
    commit = GroupCommit(store.write, max_group=100)

    outcomes = _submit_all(commit, store, [1, 2, 3, 4, 5])

    assert outcomes == dict.fromkeys([1, 2, 3, 4, 5])
    assert store.groups == [[1], [2, 3, 4, 5]]


def test_a_group_is_never_larger_than_max_group_but_always_takes_one() -> None:
    store = _Store()
    commit = GroupCommit(store.write, max_group=5, size=lambda item: item)

    _submit_all(commit, store, [1, 2, 2, 9, 1, 3])

    assert store.groups == [[1], [2, 2], [9], [1, 3]]  # 9 alone is over the limit, and is still written


def test_a_bad_item_fails_alone_and_the_others_of_its_group_are_written() -> None:
    store = _Store(bad=frozenset({3}))
    commit = GroupCommit(store.write, max_group=100)

    outcomes = _submit_all(commit, store, [1, 2, 3, 4])

    assert [item for item, error in outcomes.items() if error is not None] == [3]
    assert isinstance(outcomes[3], ValueError)
    assert sorted(store.written) == [1, 2, 4]
    assert store.groups == [[1], [2, 3, 4], [2], [3], [4]]


def test_an_interrupted_write_tells_its_whole_group_and_the_next_submission_is_still_written() -> None:
    calls: list[Sequence[int]] = []
    started, release = threading.Event(), threading.Event()

    def write(items: Sequence[int]) -> None:
        calls.append(items)
        if len(calls) == 1:
            started.set()
            release.wait(10)
            return
        if len(calls) == 2:
            raise KeyboardInterrupt

    commit = GroupCommit(write, max_group=100)
    errors: dict[int, BaseException] = {}

    def submit(item: int) -> None:
        try:
            commit.submit(item)
        except BaseException as error:
            errors[item] = error

    first = threading.Thread(target=submit, args=(1,))
    first.start()
    assert started.wait(10)
    followers = [threading.Thread(target=submit, args=(item,)) for item in (2, 3)]
    for thread in followers:
        thread.start()
    _wait_queued(commit, 2)
    release.set()
    for thread in [first, *followers]:
        thread.join(10)
        assert not thread.is_alive()

    assert calls[1] == [2, 3]
    assert sorted(errors) == [2, 3]
    assert all(isinstance(error, RuntimeError) and "interrupted" in str(error) for error in errors.values())
    commit.submit(4)  # the writer goes on
    assert calls[-1] == [4]


def test_submit_async_waits_on_the_event_loop_and_gets_the_error_of_its_item() -> None:
    written: list[int] = []

    def write(items: Sequence[int]) -> None:
        if 13 in items:
            raise ValueError("unlucky")
        written.extend(items)

    commit = GroupCommit(write, max_group=100)

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(*(commit.submit_async(item) for item in range(10, 16)), return_exceptions=True)

    outcomes = asyncio.run(main())

    assert [type(outcome).__name__ for outcome in outcomes] == ["NoneType"] * 3 + ["ValueError"] + ["NoneType"] * 2
    assert sorted(written) == [10, 11, 12, 14, 15]


def test_a_caller_that_stops_waiting_before_its_write_begins_is_not_written_and_the_others_are() -> None:
    store = _Store()
    commit = GroupCommit(store.write, max_group=100)

    async def main() -> list[BaseException | None]:
        first = asyncio.ensure_future(commit.submit_async(1))
        await asyncio.to_thread(store.first_started.wait, 10)
        waiting = [asyncio.ensure_future(commit.submit_async(item)) for item in (2, 3, 4)]
        await asyncio.to_thread(_wait_queued, commit, 3)
        waiting[1].cancel()  # item 3's request goes away while item 1 is being written
        await asyncio.sleep(0)
        store.release.set()
        return await asyncio.wait_for(asyncio.gather(first, *waiting, return_exceptions=True), 10)

    outcomes = asyncio.run(main())

    assert [type(outcome).__name__ for outcome in outcomes] == ["NoneType", "NoneType", "CancelledError", "NoneType"]
    assert store.groups == [[1], [2, 4]]


def test_close_writes_what_is_queued_then_refuses_more() -> None:
    store = _Store()
    commit = GroupCommit(store.write, max_group=100)
    first = threading.Thread(target=commit.submit, args=(1,))
    first.start()
    assert store.first_started.wait(10)
    second = threading.Thread(target=commit.submit, args=(2,))
    second.start()
    _wait_queued(commit, 1)
    closer = threading.Thread(target=commit.close)
    closer.start()
    store.release.set()
    for thread in (first, second, closer):
        thread.join(10)
        assert not thread.is_alive()

    assert store.written == [1, 2]
    with pytest.raises(RuntimeError, match="closed"):
        commit.submit(3)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=30), st.integers(min_value=1, max_value=8))
def test_whatever_the_timing_each_item_is_written_exactly_once_in_groups_within_the_limit(
        sizes: list[int], max_group: int) -> None:
    written: list[int] = []
    groups: list[list[int]] = []
    lock = threading.Lock()

    def write(items: Sequence[int]) -> None:
        with lock:
            groups.append(list(items))
            written.extend(items)

    commit = GroupCommit(write, max_group=max_group, size=lambda item: sizes[item])
    threads = [threading.Thread(target=commit.submit, args=(item,)) for item in range(len(sizes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert not any(thread.is_alive() for thread in threads)
    assert sorted(written) == list(range(len(sizes)))
    for group in groups:
        assert len(group) == 1 or sum(sizes[item] for item in group) <= max_group


def test_the_error_of_a_lone_item_is_raised_to_its_caller() -> None:
    def write(_items: Sequence[int]) -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        GroupCommit(write, max_group=10).submit(1)


def test_a_group_is_validated_while_the_one_before_commits_and_written_only_after_it() -> None:
    log: list[str] = []
    second_prepared = threading.Event()

    def prepare(item: int) -> None:
        log.append(f"prepare {item}")
        if item == 2:
            second_prepared.set()

    def write(items: Sequence[int]) -> Callable[[], None]:
        log.append(f"write {list(items)}")

        def finish() -> None:
            if items == [1]:  # the first commit waits until the next group is validated: they overlap
                assert second_prepared.wait(10), "the next group was not validated during this commit"
            log.append(f"finish {list(items)} on {threading.current_thread().name}")

        return finish

    commit = GroupCommit(write, max_group=100, prepare=prepare, name="gc")
    first = threading.Thread(target=commit.submit, args=(1,))
    first.start()
    _wait_until(lambda: "write [1]" in log)
    commit.submit(2)  # answered only once its own finish is done
    first.join(10)

    assert log == ["prepare 1", "write [1]", "prepare 2", "finish [1] on gc-finish_0", "write [2]",
                   "finish [2] on gc-finish_0"]


def test_a_failed_commit_fails_its_whole_group_and_a_failed_validation_its_item_alone() -> None:
    written: list[list[int]] = []

    def prepare(item: int) -> None:
        if item == 13:
            raise ValueError("invalid")

    def write(items: Sequence[int]) -> Callable[[], None]:
        def finish() -> None:
            if 4 in items:
                raise OSError("disk full")
            written.append(list(items))

        return finish

    commit = GroupCommit(write, max_group=100, prepare=prepare)

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(*(commit.submit_async(item) for item in (1, 13, 2)), return_exceptions=True)

    assert [type(outcome).__name__ for outcome in asyncio.run(main())] == ["NoneType", "ValueError", "NoneType"]
    with pytest.raises(OSError, match="disk full"):
        commit.submit(4)
    commit.submit(5)  # the writer goes on
    commit.close()
    assert [item for group in written for item in group] == [1, 2, 5]


def _wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(5000):
        if condition():
            return
        threading.Event().wait(0.002)
    raise AssertionError("timed out")
