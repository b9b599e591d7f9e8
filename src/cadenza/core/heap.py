"""Sparing the cyclic garbage collector the process's long-lived objects while a bulk job runs.

A bulk job (a CSV import) holds the objects of thousands of rows per chunk. They live long enough to reach
the oldest generation, and each time enough of them have, the collector walks every object the process
holds: the libraries loaded at start-up (~150,000 objects), a dozen times per 100,000 imported rows, which
measured 18% of an import's CPU time. `long_lived_objects_frozen()` moves what exists when the job starts
into the collector's permanent generation (`gc.freeze`) and back when the last such job ends (`gc.unfreeze`).
Frozen objects are still freed by reference counting as usual; only cycles among them wait until the end to
be collected. Objects made during the job are collected as always.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_running = 0  # jobs inside long_lived_objects_frozen(): the process's objects thaw when the last one ends


@contextmanager
def long_lived_objects_frozen(enabled: bool = True) -> Iterator[None]:
    """While the block runs, full collections leave alone the objects that existed when it began."""
    global _running
    if not enabled:
        yield
        return
    with _lock:
        if _running == 0:
            gc.freeze()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                gc.unfreeze()
