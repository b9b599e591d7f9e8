"""Sparing the cyclic garbage collector the process's long-lived objects: in a server, and while a bulk job runs.

Both let many more objects be allocated between two young-generation collections than Python's default 700
(`THRESHOLDS`). A server (`settle_server_heap`, once start-up is done) also freezes what start-up made, for
good; so does an import's worker process once it has built its row reader (each block it validates is tens
of thousands of young objects: with the defaults, the collector took a third of a worker's time). Ingest
makes and drops a few hundred container objects per message (each message's JSON is decoded once to check its
numbers); with the defaults, a server spent about a tenth of its time in the collector (1.3 s of ~10 s in
bench/ingest_batch.py, 9 full collections that each walked every object of the libraries).

A bulk job (a CSV import) holds the objects of thousands of rows per chunk. They live long enough to reach
the oldest generation, and each time enough of them have, the collector walks every object the process
holds: the libraries loaded at start-up (~150,000 objects), a dozen times per 100,000 imported rows, which
measured 18% of an import's CPU time. `long_lived_objects_frozen()` moves what exists when the job starts
into the collector's permanent generation (`gc.freeze`) and back when the last such job ends (`gc.unfreeze`),
and relaxes the thresholds meanwhile (the young collections still took 9% of a 200,000-row import's time).
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
_settled = False  # a server froze its start-up objects for good: a job neither freezes nor thaws anything
_thresholds_before: tuple[int, int, int] | None = None  # what a job that ends puts back (not in a server)

# Young objects allowed between two collections of the youngest generation, and how many of those make a
# collection of the middle one, and how many of those a full one (Python's defaults: 700, 10, 10).
THRESHOLDS = (50_000, 20, 100)


def settle_server_heap() -> None:
    """Once a long-running process has started: what it holds now (modules, routes, metadata, caches) is
    frozen out of every later collection, and collections run far less often. Cycles made later are still
    collected; objects are freed by reference counting as always."""
    global _settled
    gc.collect()
    with _lock:
        gc.freeze()
        _settled = True
        gc.set_threshold(*THRESHOLDS)


@contextmanager
def long_lived_objects_frozen(enabled: bool = True) -> Iterator[None]:
    """While the block runs, full collections leave alone the objects that existed when it began."""
    global _running, _thresholds_before
    if not enabled or _settled:  # a settled server froze its start-up objects and relaxed the thresholds already:
        yield  # freezing again would keep whatever garbage exists at this moment for good
        return
    with _lock:
        if _running == 0:
            gc.freeze()
            _thresholds_before = gc.get_threshold()
            gc.set_threshold(*THRESHOLDS)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and not _settled:  # (a server may have settled while this job ran)
                gc.unfreeze()
                if _thresholds_before is not None:
                    gc.set_threshold(*_thresholds_before)
