"""An iterator's items made ahead, in a thread of its own, while the caller works on the ones before.

For a pipeline whose stages wait on different things: a bulk job that reads and parses a file while it
writes to the database. The database driver lets go of the GIL while the database works, so the reading
thread runs then, instead of after each write. At most `depth` items wait made, so memory stays bounded.

The items come in order; what the iterator raises is raised to the caller at that point. When the caller
stops early (or fails), the thread is told to stop, and the iterator is closed in that thread (a generator
can only be closed by the thread that runs it), before `prefetched` returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()
_POLL_SECONDS = 0.1  # how often a producer that waits for room checks whether it should stop


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterator[T], depth: int = 1, *, name: str = "cadenza-prefetch") -> Generator[T, None, None]:
    """`items`, each made ahead by a thread while the one before is used (up to `depth` waiting)."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    break
            else:
                offer(_END)
        except BaseException as error:  # handed to the caller, raised there
            offer(_Failed(error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
