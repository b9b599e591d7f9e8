"""Validation of import chunks in worker processes: the same results as in this process, in file order."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from cadenza.contacts.csv_source import SourceRow
from cadenza.contacts.import_validation import ReaderSpec, checked_batches
from cadenza.contacts.mapping import FieldChoice

HEADERS = ["email", "phone", "plan", "tags"]
MAPPING = {"email": "email", "phone": "phone", "plan": "field:plan", "tags": "tags"}
FIELDS = {"plan": FieldChoice("plan", "Plan", "enum", ("free", "pro"))}
CELLS = [["ada@example.com", "+44 20 7946 0958", "pro", "vip;beta"], ["nope", "", "free", ""],
         ["", "12", "gold", ""], ["grace@example.com", "", "", "x" * 101], ["", "", "", ""]]


def batches(count: int, size: int) -> list[list[SourceRow]]:
    rows = [SourceRow(line, CELLS[line % len(CELLS)], line, line * 10, f"raw {line}",
                      "cannot be read as CSV" if line % 13 == 0 else None) for line in range(2, 2 + count)]
    return [rows[i:i + size] for i in range(0, count, size)]


def checked(spec: ReaderSpec, workers: int, count: int = 60, size: int = 7) -> list[tuple[list[int], list[object]]]:
    return [([row.line for row in batch], results)
            for batch, results in checked_batches(iter(batches(count, size)), spec, workers)]


SPEC = ReaderSpec(HEADERS, MAPPING, FIELDS, None)


@pytest.mark.parametrize("workers", [1, 2], ids=["one-worker", "two-workers"])
def test_worker_processes_return_what_this_process_would_in_file_order(workers: int) -> None:
    here = checked(SPEC, 0)

    assert checked(SPEC, workers) == here
    assert [lines[0] for lines, _results in here] == list(range(2, 62, 7))


def test_results_are_row_values_or_the_problems_of_each_row() -> None:
    (lines, results), = checked(SPEC, 0, count=6, size=6)

    not_a_phone = ("phone", "phone is not a phone number ((0) Missing or invalid default region.)")
    assert list(zip(lines, results, strict=True)) == [
        (2, [not_a_phone, ("plan", "plan must be one of free, pro")]),
        (3, [("tags", "tags has a tag longer than 100 characters")]),
        (4, [(None, "needs an email, an external id or a phone number")]),
        (5, (5, "ada@example.com", None, "+442079460958", None, None, None, None, ["vip", "beta"],
             {"plan": "pro"})),
        (6, [("email", "email An email address must have an @-sign.")]),
        (7, [not_a_phone, ("plan", "plan must be one of free, pro")]),
    ]


class DyingSpec(ReaderSpec):
    """A reader that cannot start in a worker process: the worker dies, as one killed by the system would."""

    def reader(self):  # type: ignore[no-untyped-def]
        if multiprocessing.parent_process() is not None:
            os._exit(3)
        return super().reader()


def test_when_a_worker_dies_the_rest_is_validated_in_this_process() -> None:
    dying = DyingSpec(HEADERS, MAPPING, FIELDS, None)

    assert checked(dying, 1) == checked(SPEC, 0)
