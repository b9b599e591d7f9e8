"""Validating an import's chunks of rows, in worker processes when the machine has cores to spare.

Validation (email-validator, phonenumbers, type coercion) is pure and CPU-bound, while this process
reads the file and waits on the database. So chunks of rows go, as plain tuples, to a pool of worker
processes, and their results come back in file order. At most `IN_FLIGHT_PER_WORKER × workers` chunks
are out at a time, so memory stays flat however large the file. With `workers=0` (one core, or a small
file) the same `RowReader.check` runs here: the results are the same either way.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Generator, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from cadenza.contacts.csv_source import SourceRow
from cadenza.contacts.import_rows import CellProblems, RowReader, RowValues
from cadenza.contacts.mapping import FieldChoice

IN_FLIGHT_PER_WORKER = 2
MAX_WORKERS = 4

Cells = tuple[int, list[str], str | None]  # a row as sent to a worker: line, cells, read error
Checked = list[RowValues | CellProblems]  # a chunk's results, one per row, in order


@dataclass(frozen=True)
class ReaderSpec:
    """What a worker process needs to build the import's RowReader (sent once, when it starts)."""

    headers: list[str]
    mapping: Mapping[str, str]
    fields: Mapping[str, FieldChoice]
    default_region: str | None

    def reader(self) -> RowReader:
        return RowReader(self.headers, self.mapping, self.fields, self.default_region)


def available_workers() -> int:
    """Worker processes worth starting here: one per core beyond this process's own, at most MAX_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(0, min(MAX_WORKERS, cores - 1))


def checked_batches(batches: Iterator[list[SourceRow]], spec: ReaderSpec,
                    workers: int) -> Generator[tuple[list[SourceRow], Checked], None, None]:
    """Each batch with its rows' results, in file order; validated in `workers` processes (0: here)."""
    if workers < 1:
        reader = spec.reader()
        for batch in batches:
            yield batch, [reader.check(row.line, row.values, row.error) for row in batch]
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(spec,))
    pending: deque[tuple[list[SourceRow], Future[Checked]]] = deque()
    try:
        for batch in batches:
            pending.append((batch, pool.submit(_check_chunk, [(row.line, row.values, row.error) for row in batch])))
            if len(pending) >= IN_FLIGHT_PER_WORKER * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_worker_reader: RowReader | None = None


def _start_worker(spec: ReaderSpec) -> None:
    global _worker_reader
    _worker_reader = spec.reader()


def _check_chunk(rows: list[Cells]) -> Checked:
    reader = _worker_reader
    assert reader is not None, "the pool's initializer builds the reader"
    check = reader.check
    return [check(line, values, error) for line, values, error in rows]
