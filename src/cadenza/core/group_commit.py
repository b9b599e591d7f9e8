"""Group commit: requests that arrive while one group is being written go together in the next group.

Each caller of `submit` waits until its item is written. One of the waiting callers (the leader) takes
every item queued so far (up to `max_group`) and writes them together; the others wait, and queue for the
next group meanwhile. So a transaction's fixed cost (its commit, its lookups) is shared by as many
requests as arrived during the one before, and one request alone is written at once, with no waiting.

When a group fails, its items are written again one by one, so that a bad item fails alone and the
others are kept. `write` must therefore leave nothing behind when it raises (one transaction per call).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(eq=False, slots=True)
class _Slot(Generic[T]):
    item: T
    done: bool = False
    error: Exception | None = None


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[Sequence[T]], None], *, max_group: int,
                 size: Callable[[T], int] = lambda _item: 1) -> None:
        self._write = write
        self._max_group = max_group
        self._size = size  # how much of `max_group` one item counts for (e.g. its messages)
        self._condition = threading.Condition()
        self._pending: list[_Slot[T]] = []
        self._writing = False

    def submit(self, item: T) -> None:
        """Writes `item` (with whatever else is queued) and returns once it is written; raises its error."""
        slot = _Slot(item)
        with self._condition:
            self._pending.append(slot)
            while not slot.done:
                if self._writing:
                    self._condition.wait()
                    continue
                group = self._take()
                self._writing = True
                self._condition.release()
                try:
                    self._write_group(group)
                finally:
                    self._condition.acquire()
                    self._writing = False
                    self._condition.notify_all()
        if slot.error is not None:
            raise slot.error

    def _take(self) -> list[_Slot[T]]:
        """The oldest queued items, at least one, up to `max_group` in size."""
        taken, total = 0, 0
        for slot in self._pending:
            total += self._size(slot.item)
            if taken and total > self._max_group:
                break
            taken += 1
        group = self._pending[:taken]
        del self._pending[:taken]
        return group

    def _write_group(self, group: list[_Slot[T]]) -> None:
        settled = 0  # slots (in order) whose outcome is known
        try:
            try:
                self._write([slot.item for slot in group])
                settled = len(group)
                return
            except Exception as error:
                if len(group) == 1:
                    group[0].error = error
                    settled = 1
                    return
            for slot in group:  # one by one: the bad one fails alone
                try:
                    self._write([slot.item])
                except Exception as alone:
                    slot.error = alone
                settled += 1
        finally:
            for slot in group[settled:]:  # the leader was interrupted: its followers are told, not left waiting
                slot.error = RuntimeError("The write was interrupted; nothing of it was kept.")
            for slot in group:
                slot.done = True
