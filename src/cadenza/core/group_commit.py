"""Group commit: items that arrive while one group is being written go together in the next group.

One writer thread writes every group, one after another: it takes every item queued so far (up to
`max_group`) and writes them together, while the items that arrive meanwhile queue for the next group.
So a transaction's fixed cost (its commit, its lookups) is shared by as many items as arrived during the
one before, and an item that arrives alone is written at once. A caller waits for its own item: `submit`
blocks its thread, `submit_async` awaits on an event loop without holding a thread at all.

Pipelined: `write` may leave its group's last step (the commit) to be done later by returning it as a
function. A second thread ("finisher") runs it while the writer takes the next group and `prepare`s its
items (pure work such as validation, which then overlaps the commit instead of competing with the
writer's own Python work for the GIL). The next `write` starts only once that finish is done, so groups
still commit one after another, in order; a caller is answered once its group's finish is done.

Why one dedicated thread: the writer's database calls give up the GIL and then need it back. With many
threads taking turns at writing (each caller its own leader), the writer queued for the GIL behind every
other request thread after each statement; with one writer and callers that wait on the event loop, only
the loop thread competes with it.

When a group's `write` fails, its items are written again one by one (each finished at once), so that a
bad item fails alone and the others are kept. `write` must therefore leave nothing behind when it raises
(one transaction per call). A failed `prepare` fails its item alone. A failed finish fails its whole
group: nothing of it was kept."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
Finish = Callable[[], None]  # what is left of a group's write, run by the finisher thread
log = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class _Slot(Generic[T]):
    item: T
    future: Future[None] = field(default_factory=Future)


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[Sequence[T]], Finish | None], *, max_group: int,
                 size: Callable[[T], int] = lambda _item: 1, prepare: Callable[[T], None] | None = None,
                 name: str = "cadenza-group-commit") -> None:
        self._write = write
        self._max_group = max_group
        self._size = size  # how much of `max_group` one item counts for (e.g. its messages)
        self._prepare = prepare
        self._name = name
        self._finisher: ThreadPoolExecutor | None = None
        self._finishing: Future[None] | None = None  # the last group's finish
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
                        self._wait_finished()
                        if self._finisher is not None:
                            self._finisher.shutdown()
                        return
                    self._condition.wait()
                # A caller that gave up waiting (its request cancelled) before its item was taken is not written.
                group = [slot for slot in self._take() if slot.future.set_running_or_notify_cancel()]
            try:
                group = self._prepared(group)  # while the group before is being finished
                self._wait_finished()
                if group:
                    self._write_group(group)
            except BaseException:  # its group was told; the writer goes on with the next one
                log.exception("A group commit write was interrupted")

    def _prepared(self, group: list[_Slot[T]]) -> list[_Slot[T]]:
        if self._prepare is None:
            return group
        ready = []
        for slot in group:
            try:
                self._prepare(slot.item)
                ready.append(slot)
            except Exception as error:
                slot.future.set_exception(error)
        return ready

    def _wait_finished(self) -> None:
        """Waits for the last group's finish (its callers are told by `_tell`, whatever its outcome)."""
        if self._finishing is not None:
            with contextlib.suppress(BaseException):  # told to that group's callers already
                self._finishing.result()
            self._finishing = None

    def _finish_later(self, group: list[_Slot[T]], finish: Finish) -> None:
        if self._finisher is None:
            self._finisher = ThreadPoolExecutor(1, thread_name_prefix=f"{self._name}-finish")
        self._finishing = self._finisher.submit(finish)
        self._finishing.add_done_callback(lambda done: _tell(group, done.exception()))

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
        told_later = False
        try:
            try:
                finish = self._write([slot.item for slot in group])
            except Exception as error:
                if len(group) == 1:
                    outcomes = [error]
                    return
            else:
                if finish is None:
                    outcomes = [None] * len(group)
                    return
                self._finish_later(group, finish)
                told_later = True  # its callers are told when the finish is done (`_tell`)
                return
            for slot in group:  # one by one, each finished at once: the bad one fails alone
                try:
                    finish = self._write([slot.item])
                    if finish is not None:
                        finish()
                    outcomes.append(None)
                except Exception as alone:
                    outcomes.append(alone)
        finally:
            # An interrupted writer (a BaseException) tells the rest of its group rather than leaving it waiting.
            for position, slot in enumerate(group if not told_later else []):
                if position >= len(outcomes):
                    slot.future.set_exception(RuntimeError("The write was interrupted; nothing of it was kept."))
                elif outcomes[position] is None:
                    slot.future.set_result(None)
                else:
                    slot.future.set_exception(outcomes[position])


def _tell(group: list[_Slot[T]], error: BaseException | None) -> None:
    for slot in group:
        if error is None:
            slot.future.set_result(None)
        else:
            slot.future.set_exception(error)
