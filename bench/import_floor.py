#!/usr/bin/env python3
"""The CSV import's floor: what reading, validating and storing a row cost on their own, and the ceiling they set.

`import_csv.py` measures the import end to end. This takes the same file apart into the three pieces of work
every row needs, each timed alone on one core, with nothing of the import's own bookkeeping around them:

* read: the file's rows, parsed from CSV (`CsvSource.rows`, which also tracks lines and byte offsets);
* validate: each row checked and coerced (`RowReader.check`: email-validator / phonenumbers fast paths, dates,
  numbers, enums), as the import's worker processes do;
* store: the rows the import writes for a new contact (on PostgreSQL as the import does; on SQLite the import
  now inserts most new contacts from a stage with INSERT … SELECT, `import_writer.plan_staged_chunk`, about half
  this path's cost, so there this figure is the older path's) (the `contacts` row, its `contact_tags`, its
  `contact.changed` outbox fact) through our thinnest bulk path (`storage.bulk.insert_rows`), one transaction
  per `--chunk-size` rows into the real tables (indexes and all), the file's companies already there, no
  lookups, no planning.

However the work is spread over processes, an import cannot beat `cores / (read + validate + store)` rows per
second on this machine, and the database's share (store) is the part no process count divides on SQLite. The
end-to-end figure is measured against that ceiling.

    .venv/bin/python bench/import_floor.py                               # 300,000 rows, SQLite file
    .venv/bin/python bench/import_floor.py --rows 1000000 --chunk-size 20000
    .venv/bin/python bench/import_floor.py --postgres                    # CADENZA_TEST_DATABASE_URL's server

store is timed on the wall clock (on PostgreSQL the server's processes do most of it); read and validate on
this process's CPU clock.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from common import create_postgres_database, drop_postgres_database, insert_baseline
from import_csv import generate
from sqlalchemy import Table, select

from cadenza.auth import Principal
from cadenza.bootstrap import build_container
from cadenza.config import Settings
from cadenza.contacts.csv_source import CsvFormat, CsvSource, SourceRow
from cadenza.contacts.import_rows import RowValues
from cadenza.contacts.import_validation import ReaderSpec, available_cores
from cadenza.contacts.models import Company, Contact, ContactTag
from cadenza.schema import upgrade
from cadenza.storage.bulk import driver_value, insert_rows
from cadenza.storage.database import json_dumps
from cadenza.storage.models import OutboxMessage
from cadenza.storage.outbox import CONTACT_CHANGED, contact_changed

_CONTACT_COLUMNS = ("id", "workspace_id", "email", "external_id", "phone", "first_name", "last_name", "timezone",
                    "company_id", "attributes", "created_at", "updated_at")


def _chunks(rows: Iterator[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--chunk-size", type=int, default=20_000, help="rows per transaction (the import's)")
    parser.add_argument("--postgres", action="store_true", help="store into PostgreSQL (CADENZA_TEST_DATABASE_URL)")
    args = parser.parse_args()
    base_url = os.environ.get("CADENZA_TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    with tempfile.TemporaryDirectory(prefix="cadenza-import-floor-") as scratch_dir:
        scratch = Path(scratch_dir)
        url, pg_name = f"sqlite:///{scratch}/floor.db", None
        if args.postgres:
            url, pg_name = create_postgres_database(base_url)
        try:
            figures = _measure(args, scratch, url)
        finally:
            if pg_name:
                drop_postgres_database(base_url, pg_name)
    rows = args.rows
    read_us, validate_us, store_us = (figures[k] * 1e6 / rows for k in ("read_s", "validate_s", "store_s"))
    cores = available_cores()
    ceiling = cores / ((read_us + validate_us + store_us) / 1e6)
    baseline_name, baseline = insert_baseline(bool(args.postgres))
    print(f"database                 {'postgresql' if args.postgres else 'sqlite'}")
    print(f"rows                     {rows:,} ({args.chunk_size:,} per transaction)")
    print(f"read_us_per_row          {read_us:.1f} (CPU, one core)")
    print(f"validate_us_per_row      {validate_us:.1f} (CPU, one core)")
    store_cpu_us = figures["store_cpu_s"] * 1e6 / rows
    print(f"store_us_per_row         {store_us:.1f} (wall; {store_cpu_us:.1f} CPU in this process)")
    print(f"store_rows_per_s         {rows / figures['store_s']:,.0f} (the database alone)")
    print(f"ceiling_rows_per_s       {ceiling:,.0f} (on {cores} cores, the three perfectly spread)")
    if baseline:
        print(f"{baseline_name:24} {baseline:,.0f}")
        print(f"store_ratio              {rows / figures['store_s'] / baseline:.3f}")


def _measure(args: argparse.Namespace, scratch: Path, url: str) -> dict[str, float]:
    csv_path = scratch / "contacts.csv"
    generate(csv_path, args.rows, bad_share=0.0, phone_share=0.3)
    upgrade(url)
    container = build_container(Settings(database_url=url, data_dir=scratch, secret_key="bench"))
    owner = container.access.create_workspace("Floor", "floor@example.com", "floor-password-1", "Floor")
    principal = Principal.system(owner.workspace_id, "bench")
    with csv_path.open("rb") as source:
        contact_import = container.imports.create_import(principal, "contacts.csv", source, run_in_background=False)
    fields = {f.key: f for f in container.imports._fields(owner.workspace_id)}
    fmt = CsvFormat(contact_import.encoding or "utf-8", contact_import.delimiter or ",")

    started = time.process_time()
    with csv_path.open("rb") as stream:
        csv_source = CsvSource(stream, fmt)
        chunks = list(_chunks(csv_source.rows(), args.chunk_size))
    read_s = time.process_time() - started
    reader = ReaderSpec(csv_source.headers, contact_import.mapping, fields, contact_import.default_region).reader()

    started = time.process_time()
    checked = [[reader.check(row.line, row.values, row.error) for row in chunk] for chunk in chunks]
    validate_s = time.process_time() - started
    del chunks
    valid = [[row for row in chunk if isinstance(row, tuple)] for chunk in checked]
    assert sum(map(len, valid)) == args.rows, "every generated row is valid"

    contacts, tags = cast(Table, Contact.__table__), cast(Table, ContactTag.__table__)
    outbox = cast(Table, OutboxMessage.__table__)
    workspace_id = owner.workspace_id
    names = sorted({row[7] for chunk in valid for row in chunk if row[7]})
    with container.db.transaction() as session:  # the file's companies exist already, as after a first chunk
        now = container.clock.now()
        insert_rows(session, cast(Table, Company.__table__), ("workspace_id", "name", "attributes", "created_at",
                                                               "updated_at"),
                    [(workspace_id, name, {}, now, now) for name in names])
        query = select(Company.name, Company.id).where(Company.workspace_id == workspace_id)
        companies: dict[str, int] = {name: company_id for name, company_id in session.execute(query)}
        stamp = driver_value(session, contacts, "created_at", now)
    prepared = [_rows(workspace_id, chunk, first_id, stamp, companies)
                for first_id, chunk in zip(itertools.accumulate((len(c) for c in valid), initial=1), valid,
                                           strict=False)]
    started, cpu_started = time.perf_counter(), time.process_time()
    for contact_rows, tag_rows, fact_rows in prepared:
        with container.db.transaction() as session:
            insert_rows(session, contacts, _CONTACT_COLUMNS, contact_rows, prepared=True)
            insert_rows(session, tags, ("workspace_id", "contact_id", "tag"), tag_rows, prepared=True)
            insert_rows(session, outbox, ("workspace_id", "topic", "payload", "created_at"), fact_rows,
                        prepared=True)
    store_s, store_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    container.close()
    return {"read_s": read_s, "validate_s": validate_s, "store_s": store_s, "store_cpu_s": store_cpu_s}


def _rows(workspace_id: int, chunk: list[RowValues], first_id: int, stamp: Any,
          companies: dict[str, int]) -> tuple[list[Any], ...]:
    """A new contact's rows for each validated row, made before the clock starts. The ids are explicit, as the
    import's are."""
    contact_rows: list[tuple[Any, ...]] = []
    tag_rows: list[tuple[Any, ...]] = []
    fact_rows: list[tuple[Any, ...]] = []
    for contact_id, row in enumerate(chunk, start=first_id):
        contact_rows.append((contact_id, workspace_id, row[1], row[2], row[3], row[4], row[5], row[6],
                             companies.get(row[7]) if row[7] else None,
                             json_dumps(row[9]), stamp, stamp))
        tag_rows.extend((workspace_id, contact_id, tag) for tag in row[8])
        fact = contact_changed(workspace_id, contact_id, fields=["created", "email", "tags"], reason="import")
        fact_rows.append((workspace_id, CONTACT_CHANGED, json_dumps(fact["payload"]), stamp))
    return contact_rows, tag_rows, fact_rows


if __name__ == "__main__":
    main()
