"""Reading and validating an import's rows in worker processes: the same results as in this process, in file
order, also when a block was cut inside a quoted cell or a worker died."""

from __future__ import annotations

import csv
import gc
import io
import multiprocessing
import os
import weakref
from collections import defaultdict

import pytest

from cadenza.contacts import import_validation
from cadenza.contacts.csv_source import CsvFormat, CsvSource
from cadenza.contacts.import_rows import CellProblems, RowReader, RowValues
from cadenza.contacts.import_validation import CheckedChunk, ReaderSpec, checked_chunks
from cadenza.contacts.import_writer import ready_to_write, staged_rows
from cadenza.contacts.mapping import FieldChoice
from cadenza.core import heap
from cadenza.core.heap import THRESHOLDS

HEADERS = ["email", "phone", "plan", "tags"]
MAPPING = {"email": "email", "phone": "phone", "plan": "field:plan", "tags": "tags"}
FIELDS = {"plan": FieldChoice("plan", "Plan", "enum", ("free", "pro"))}
CELLS = [["ada@example.com", "+44 20 7946 0958", "pro", "vip;beta"], ["nope", "", "free", ""],
         ["", "12", "gold", ""], ["grace@example.com", "", "", "x" * 101], ["", "", "", ""],
         ["multi@example.com", "", "pro", "one\ntwo"]]
SPEC = ReaderSpec(HEADERS, MAPPING, FIELDS, None)


def csv_file(count: int, *, stray_quote_on: int | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADERS)
    for n in range(count):
        cells = list(CELLS[n % len(CELLS)])
        if n == stray_quote_on:
            cells[2] = 'pro"'  # a quote standing alone in an unquoted cell: quote counting goes wrong after it
        writer.writerow(cells)
    text = out.getvalue()
    if stray_quote_on is not None:
        text = text.replace('"pro"""', 'pro"')  # as written by hand, not quoted
    return text.encode()


def checked(data: bytes, spec: ReaderSpec, workers: int, rows: int = 7) -> list[CheckedChunk]:
    source = CsvSource(io.BytesIO(data), CsvFormat("utf-8", ","))
    return list(checked_chunks(source, None, None, spec, workers, rows))


def results(chunk: CheckedChunk) -> list[object]:
    """Each row's result: its ready row (from the stage), or its problems as (column, message) pairs."""
    valid = dict(staged_rows(chunk.stage))
    problems: dict[int, list[tuple[str | None, object]]] = defaultdict(list)
    for problem in chunk.problems:
        problems[problem.line].append((problem.column, problem.message))
    return [valid.get(seq) or problems[line] for seq, line in enumerate(chunk.lines)]


def flat(chunks: list[CheckedChunk]) -> list[tuple[object, ...]]:
    return [row for chunk in chunks for row in zip(chunk.lines, chunk.raws, results(chunk), strict=True)]


@pytest.mark.parametrize("workers", [1, 2], ids=["one-worker", "two-workers"])
def test_worker_processes_return_what_this_process_would_in_file_order(workers: int) -> None:
    data = csv_file(60)
    here = checked(data, SPEC, 0)

    there = checked(data, SPEC, workers)

    assert flat(there) == flat(here)
    assert there[-1].end_offset == len(data) and there[-1].end_line == here[-1].end_line
    assert len(there) > 3  # the file went out in several blocks


def test_results_are_row_values_or_the_problems_of_each_row() -> None:
    chunk, = checked(csv_file(7), SPEC, 0, rows=7)  # line 6 has only empty cells: skipped, as an empty line

    not_a_phone = ("phone", "phone is not a phone number ((0) Missing or invalid default region.)")
    assert list(zip(chunk.lines, results(chunk), strict=True)) == [
        (2, ready_to_write((2, "ada@example.com", None, "+442079460958", None, None, None, None, ["vip", "beta"],
                            {"plan": "pro"}))),
        (3, [("email", "email An email address must have an @-sign.")]),
        (4, [not_a_phone, ("plan", "plan must be one of free, pro")]),
        (5, [("tags", "tags has a tag longer than 100 characters")]),
        (7, ready_to_write((7, "multi@example.com", None, None, None, None, None, None, ["one\ntwo"],
                            {"plan": "pro"}))),
        (9, ready_to_write((9, "ada@example.com", None, "+442079460958", None, None, None, None, ["vip", "beta"],
                            {"plan": "pro"}))),
    ]
    assert chunk.raws[4] == 'multi@example.com,,pro,"one\ntwo"'


def test_a_block_cut_inside_a_quoted_cell_is_read_again_here_from_its_start(caplog: pytest.LogCaptureFixture) -> None:
    data = csv_file(60, stray_quote_on=3)
    here = checked(data, SPEC, 0)

    there = checked(data, SPEC, 1, rows=2)

    assert b'pro",' in data
    assert flat(there) == flat(here)
    warning, = (r.getMessage() for r in caplog.records if r.name == "cadenza.contacts.import_validation")
    assert "cut inside a quoted cell" in warning and "in this process, from line 5 " in warning


class DyingSpec(ReaderSpec):
    """A reader that cannot start in a worker process: the worker dies, as one killed by the system would."""

    def reader(self):  # type: ignore[no-untyped-def]
        if multiprocessing.parent_process() is not None:
            os._exit(3)
        return super().reader()


def test_when_a_worker_dies_the_rest_is_read_and_validated_in_this_process(caplog: pytest.LogCaptureFixture) -> None:
    dying = DyingSpec(HEADERS, MAPPING, FIELDS, None)
    data = csv_file(60)

    assert flat(checked(data, dying, 1)) == flat(checked(data, SPEC, 0))
    warning, = (r.getMessage() for r in caplog.records if r.name == "cadenza.contacts.import_validation")
    assert warning.startswith("Import: a worker process died; reading and validating the rest of the file in this "
                              "process, from line 2 ")


class _GcReportingReader(RowReader):
    def check(self, line: int, values: list[str], error: str | None) -> RowValues | CellProblems:
        # As a row's problems (a list), so that nothing takes it for a valid row
        return [(str(line), (gc.get_threshold(), gc.get_freeze_count() > 0, gc.isenabled()))]  # type: ignore[list-item]


class GcReportingSpec(ReaderSpec):
    """A reader whose every result says how the collector of the process that checked the row is set."""

    def reader(self) -> RowReader:
        return _GcReportingReader(self.headers, self.mapping, self.fields, self.default_region)


def test_worker_processes_spare_their_collector_the_objects_they_started_with() -> None:
    """Each block is tens of thousands of young objects: with Python's default thresholds (700, 10, 10) the
    collector took a third of a worker's time, and 15-20% with relaxed ones; it runs once per block instead."""
    spec = GcReportingSpec(HEADERS, MAPPING, FIELDS, None)

    reported = {result[0][1] for row in flat(checked(csv_file(20), spec, 1)) for result in [row[2]]}

    assert reported == {(THRESHOLDS, True, False)}


class _CycleMakingReader(RowReader):
    made: list[weakref.finalize] = []

    def check(self, line: int, values: list[str], error: str | None) -> RowValues | CellProblems:
        cycle: list[object] = []
        cycle.append(cycle)
        self.made.append(weakref.finalize(_Box(cycle), lambda: None))
        return super().check(line, values, error)


class _Box:
    def __init__(self, cycle: list[object]) -> None:
        self.cycle = cycle
        cycle.append(self)


class CycleMakingSpec(ReaderSpec):
    def reader(self) -> RowReader:
        return _CycleMakingReader(self.headers, self.mapping, self.fields, self.default_region)


def test_what_a_block_leaves_in_a_cycle_is_collected_when_the_block_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker's start settles the heap for the whole process: what it marks is put back after the test, so
    # later tests in this process (tests/core/test_heap.py) still see a process that has not settled.
    monkeypatch.setattr(heap, "_settled", False)
    source = CsvSource(io.BytesIO(csv_file(12)), CsvFormat("utf-8", ","))
    block, *_ = source.blocks(None, None, 12)
    thresholds = gc.get_threshold()
    try:
        import_validation._start_worker(CycleMakingSpec(HEADERS, MAPPING, FIELDS, None))  # as in a worker process
        assert not gc.isenabled()

        chunk = import_validation._check_block(block, source.format)

        assert chunk is not None and chunk.lines
        assert _CycleMakingReader.made and not any(made.alive for made in _CycleMakingReader.made)
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        import_validation._worker_checker = None
