"""Reading and validating an import's rows, in worker processes when the machine has cores to spare.

Parsing CSV and validating rows (email-validator, phonenumbers, type coercion) are pure and CPU-bound, while
this process plans and writes the chunks. So with workers, this process only cuts the file into blocks of
whole rows (bytes, cut where a line break stands outside quotes: `CsvSource.blocks`) and a pool of worker
processes parses and checks each block; the results come back in file order. At most
`IN_FLIGHT_PER_WORKER × workers` blocks are out at a time, so memory stays flat however large the file. With
`workers=0` (one core, or a small file) the rows are read and checked here in chunks of `rows`: the results
are the same either way. When processes cannot be started, a worker dies, or a block turns out to have been
cut inside a quoted cell (a quote standing alone in an unquoted cell misled the cut), the rest of the file is
read and checked here, from the start of that block.
"""

from __future__ import annotations

import gc
import itertools
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Generator, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from cadenza.contacts.csv_source import Block, CsvFormat, CsvSource, SourceRow, read_block
from cadenza.contacts.import_rows import RowProblem, RowReader
from cadenza.contacts.import_writer import stage_rows
from cadenza.contacts.mapping import FieldChoice
from cadenza.core.heap import settle_server_heap

log = logging.getLogger(__name__)

IN_FLIGHT_PER_WORKER = 2
MAX_WORKERS = 4

@dataclass(frozen=True)
class ReaderSpec:
    """What a worker process needs to build the import's RowReader (sent once, when it starts)."""

    headers: list[str]
    mapping: Mapping[str, str]
    fields: Mapping[str, FieldChoice]
    default_region: str | None

    def reader(self) -> RowReader:
        return RowReader(self.headers, self.mapping, self.fields, self.default_region)

    def checker(self) -> _Checker:
        return _Checker(self.reader(), [key for key, field in self.fields.items() if field.is_required])


@dataclass(frozen=True)
class _Checker:
    reader: RowReader
    required: list[str]  # the custom fields a new contact must have


@dataclass(slots=True)
class CheckedChunk:
    """Consecutive rows of the file, checked: each row's line and text (for error reports), the problems of the
    rows that are not valid, the valid ones ready to write and staged (`import_writer.stage_rows`: bytes, cheap
    to send between processes and for SQLite to write from), and where the chunk ends in the file (where a
    resumed import starts again)."""

    lines: list[int]
    raws: list[str]
    problems: list[RowProblem]
    stage: bytes
    end_offset: int
    end_line: int


def available_workers() -> int:
    """Worker processes worth starting here: one per core when there are two or more (the importing process
    spends most of its time in SQLite's C code, without the GIL, so it shares a core well: on 2 cores, 2 workers
    imported 11–15% faster than 1), at most MAX_WORKERS; none on one core."""
    return min(MAX_WORKERS, cores) if (cores := available_cores()) > 1 else 0


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def checked_chunks(source: CsvSource, start_offset: int | None, start_line: int | None, spec: ReaderSpec,
                   workers: int, rows: int) -> Generator[CheckedChunk, None, None]:
    """The file's rows from a resume point, checked, in file order, in chunks of about `rows` rows; read and
    checked in `workers` processes (0: here)."""
    if workers < 1:
        yield from _checked_here(source.rows(start_offset, start_line), spec.checker(), rows)
        return
    try:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(spec,))
    except (OSError, NotImplementedError) as error:  # no processes here (a sandbox): read and check here
        log.warning("Import: cannot start worker processes (%s); reading and validating in this process", error)
        yield from checked_chunks(source, start_offset, start_line, spec, 0, rows)
        return
    try:
        failed = yield from _checked_in(pool, source.blocks(start_offset, start_line, rows), source.format,
                                        IN_FLIGHT_PER_WORKER * workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failed is not None:
        block, why = failed
        log.warning("Import: %s; reading and validating the rest of the file in this process, from line %d "
                    "(slower, same result)", why, block.lines_before + 1)
        yield from _checked_here(source.rows(block.offset, block.lines_before), spec.checker(), rows)


def _checked_in(pool: ProcessPoolExecutor, blocks: Iterator[Block], fmt: CsvFormat,
                in_flight: int) -> Generator[CheckedChunk, None, tuple[Block, str] | None]:
    """Each block's chunk from the pool, in order. Returns the block the pool could not do and why (None: all
    done)."""
    pending: deque[tuple[Block, Future[CheckedChunk | None]]] = deque()
    while True:
        for block in itertools.islice(blocks, in_flight - len(pending)):
            pending.append((block, pool.submit(_check_block, block, fmt)))
        if not pending:
            return None
        block, future = pending.popleft()
        try:
            chunk = future.result()
        except BrokenProcessPool:  # killed, out of memory
            return block, "a worker process died"
        if chunk is None:
            return block, "a block of the file was cut inside a quoted cell (a quote in an unquoted cell misled it)"
        yield chunk


def _checked_here(rows: Iterator[SourceRow], checker: _Checker, size: int) -> Iterator[CheckedChunk]:
    while batch := list(itertools.islice(rows, size)):
        yield _chunk(checker, batch, batch[-1].end_offset, batch[-1].end_line)


def _chunk(checker: _Checker, rows: list[SourceRow], end_offset: int, end_line: int) -> CheckedChunk:
    """The rows checked; the valid ones made ready to write and staged here, where cores are spare."""
    check = checker.reader.check
    valid = []
    problems = []
    for seq, row in enumerate(rows):
        result = check(row.line, row.values, row.error)
        if type(result) is tuple:
            valid.append((seq, result))
        else:
            problems += [RowProblem(row.line, column, message, row.raw) for column, message in result]
    return CheckedChunk([row.line for row in rows], [row.raw for row in rows], problems,
                        stage_rows(valid, checker.required), end_offset, end_line)


_worker_checker: _Checker | None = None


def _start_worker(spec: ReaderSpec) -> None:
    global _worker_checker
    _worker_checker = spec.checker()
    # A block's rows are tens of thousands of young objects: with Python's default thresholds the collector
    # walked them (and the libraries' objects) so often that it took a third of a worker's time; with relaxed
    # ones (settle_server_heap) still 15-20%, walking rows that reference counting frees anyway (none is in a
    # cycle). So the collector is off here, and runs once per block, when the block is done (`_check_block`).
    settle_server_heap()
    gc.disable()


def _check_block(block: Block, fmt: CsvFormat) -> CheckedChunk | None:
    checker = _worker_checker
    assert checker is not None, "the pool's initializer builds the checker"
    rows = read_block(block, fmt)
    chunk = None if rows is None else _chunk(checker, rows, block.end_offset, block.end_line)
    del rows
    gc.collect(0)  # whatever the block left in a cycle: only the objects made since the last block are walked
    return chunk
