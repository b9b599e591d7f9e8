"""Validating an import's chunks of rows, in worker processes when the machine has cores to spare.

Validation (email-validator, phonenumbers, type coercion) is pure and CPU-bound, while this process
reads the file and waits on the database. So chunks of rows go, as plain tuples, to a pool of worker
processes, and their results come back in file order. At most `IN_FLIGHT_PER_WORKER × workers` chunks
are out at a time, so memory stays flat however large the file. With `workers=0` (one core, or a small
file) the same `RowReader.check` runs here: the results are the same either way. When processes cannot
be started, or a worker dies, validation carries on in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Generator, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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
        here = spec.reader()
        for batch in batches:
            yield batch, _check_here(here, batch)
        return
    try:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(spec,))
    except (OSError, NotImplementedError):  # no processes here (a sandbox): validate in this process
        yield from checked_batches(batches, spec, 0)
        return
    pending: deque[tuple[list[SourceRow], Future[Checked]]] = deque()
    reader: RowReader | None = None  # set when the pool broke: the rest is validated here
    try:
        for batch in batches:
            if reader is None:
                cells = [(row.line, row.values, row.error) for row in batch]
                pending.append((batch, pool.submit(_check_chunk, cells)))
                if len(pending) < IN_FLIGHT_PER_WORKER * workers:
                    continue
            else:
                pending.append((batch, _done(_check_here(reader, batch))))
            done, future = pending.popleft()
            try:
                yield done, future.result()
            except BrokenProcessPool:  # a worker died (killed, out of memory): carry on in this process
                reader = spec.reader()
                pending = deque((b, _done(_check_here(reader, b))) for b, _future in pending)
                yield done, _check_here(reader, done)
        while pending:
            done, future = pending.popleft()
            try:
                yield done, future.result()
            except BrokenProcessPool:
                reader = reader or spec.reader()
                yield done, _check_here(reader, done)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _check_here(reader: RowReader, batch: list[SourceRow]) -> Checked:
    return [reader.check(row.line, row.values, row.error) for row in batch]


def _done(result: Checked) -> Future[Checked]:
    future: Future[Checked] = Future()
    future.set_result(result)
    return future


_worker_reader: RowReader | None = None


def _start_worker(spec: ReaderSpec) -> None:
    global _worker_reader
    _worker_reader = spec.reader()


def _check_chunk(rows: list[Cells]) -> Checked:
    reader = _worker_reader
    assert reader is not None, "the pool's initializer builds the reader"
    check = reader.check
    return [check(line, values, error) for line, values, error in rows]
