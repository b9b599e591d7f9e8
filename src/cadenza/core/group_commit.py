"""Group commit: items that arrive while one group is being written go together in the next group.

One writer thread writes every group, one after another: it takes every item queued so far (up to
`max_group`) and writes them together, while the items that arrive meanwhile queue for the next group.
So a transaction's fixed cost (its commit, its lookups) is shared by as many items as arrived during the
one before, and an item that arrives alone is written at once. A caller waits for its own item: `submit`
blocks its thread, `submit_async` awaits on an event loop without holding a thread at all.

Why one dedicated thread: the writer's database calls give up the GIL and then need it back. With many
threads taking turns at writing (each caller its own leader), the writer queued for the GIL behind every
other request thread after each statement; with one writer and callers that wait on the event loop, only
the loop thread competes with it.

When a group fails, its items are written again one by one, so that a bad item fails alone and the
others are kept. `write` must therefore leave nothing behind when it raises (one transaction per call).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class _Slot(Generic[T]):
    item: T
    future: Future[None] = field(default_factory=Future)


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[Sequence[T]], None], *, max_group: int,
                 size: Callable[[T], int] = lambda _item: 1, name: str = "cadenza-group-commit") -> None:
        self._write = write
        self._max_group = max_group
        self._size = size  # how much of `max_group` one item counts for (e.g. its messages)
        self._name = name
        self._condition = threading.Condition()
        self._pending: list[_Slot[T]] = []
        self._writer: threading.Thread | None = None
        self._closed = False

    def submit(self, item: T) -> None:
        """Writes `item` (with whatever else is queued) and returns once it is written; raises its error."""
        self._enqueue(item).result()

    async def submit_async(self, item: T) -> None:
        """As `submit`, awaited on the running event loop instead of blocking a thread."""
        await asyncio.wrap_future(self._enqueue(item))

    def close(self) -> None:
        """Writes what is queued, then stops the writer thread; later submissions are refused."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
            writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join()

    def _enqueue(self, item: T) -> Future[None]:
        slot = _Slot(item)
        with self._condition:
            if self._closed:
                raise RuntimeError("The group commit is closed.")
            self._pending.append(slot)
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._writer.start()
            self._condition.notify()
        return slot.future

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending:
                    if self._closed:
                        return
                    self._condition.wait()
                # A caller that gave up waiting (its request cancelled) before its item was taken is not written.
                group = [slot for slot in self._take() if slot.future.set_running_or_notify_cancel()]
            if not group:
                continue
            try:
                self._write_group(group)
            except BaseException:  # its group was told; the writer goes on with the next one
                log.exception("A group commit write was interrupted")

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
        outcomes: list[Exception | None] = []  # of the group's slots, in order, as far as known
        try:
            try:
                self._write([slot.item for slot in group])
                outcomes = [None] * len(group)
                return
            except Exception as error:
                if len(group) == 1:
                    outcomes = [error]
                    return
            for slot in group:  # one by one: the bad one fails alone
                try:
                    self._write([slot.item])
                    outcomes.append(None)
                except Exception as alone:
                    outcomes.append(alone)
        finally:
            # An interrupted writer (a BaseException) tells the rest of its group rather than leaving it waiting.
            for position, slot in enumerate(group):
                if position >= len(outcomes):
                    slot.future.set_exception(RuntimeError("The write was interrupted; nothing of it was kept."))
                elif outcomes[position] is None:
                    slot.future.set_result(None)
                else:
                    slot.future.set_exception(outcomes[position])
