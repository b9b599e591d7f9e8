#!/usr/bin/env python3
"""The event store's floor: how fast the database takes ingest's event rows, and nothing else.

The same 100-event batches as `ingest_batch.py`, already validated and with their contacts already
resolved, go into the real `events` table (its indexes and constraints, from the migrations) with
ingest's own bulk path (`storage.bulk.insert_rows`), one transaction per `--group` events. No HTTP,
no validation, no identity resolution: what is left is the database's own work per event (its
indexes, its log, its commit) and our thinnest path to it. End-to-end ingest cannot be faster than
this on the same machine; the gap between the two is what the rest of ingest costs.

    .venv/bin/python bench/event_store_floor.py                      # SQLite file
    .venv/bin/python bench/event_store_floor.py --group 800          # as ingest's group commit under load
    .venv/bin/python bench/event_store_floor.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Prints events/s, CPU µs per event (this process; on PostgreSQL the server's work is in its own
processes) and the ratio to the raw bulk-insert limit of the same database measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from common import create_postgres_database, drop_postgres_database, insert_baseline
from ingest_batch import build_bodies
from sqlalchemy import Table

from cadenza.bootstrap import build_container
from cadenza.config import Settings
from cadenza.contacts.models import Contact
from cadenza.events.intake import read_batch_body, read_messages
from cadenza.events.models import Event
from cadenza.events.service import _COLUMNS
from cadenza.schema import upgrade
from cadenza.storage.bulk import insert_rows


def _rows(bodies: list[bytes], workspace_id: int, contact_ids: list[int], seed: int = 11) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    received_at = dt.datetime.now(dt.UTC)
    rows = []
    for raw in bodies:
        body = read_batch_body(raw)
        intake = read_messages(body.messages, received_at=received_at, max_event_bytes=32_000,
                               defaults=body.defaults)
        for a in intake.accepted:
            contact_id = rng.choice(contact_ids) if a.user_id else None
            rows.append((workspace_id, contact_id, a.message_id, a.type, a.name, a.user_id, a.anonymous_id,
                         a.group_id, a.previous_id, a.category, a.occurred_at, received_at, a.sent_at,
                         a.properties, a.context_text(), a.integrations, "api"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batches", type=int, default=400, help="batches of 100 events (default 400)")
    parser.add_argument("--group", type=int, default=100, help="events per transaction (default 100)")
    parser.add_argument("--users", type=int, default=5000, help="contacts the events are about")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL (a database is made and dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        pg_name = None
        url = f"sqlite:///{scratch}/floor.db"
        if args.postgres:
            url, pg_name = create_postgres_database(args.postgres)
        try:
            upgrade(url)
            container = build_container(Settings(database_url=url, secret_key="bench", data_dir=Path(scratch)))
            owner = container.access.create_workspace("Floor", "floor@example.com", "floor-password-123", "F")
            now = dt.datetime.now(dt.UTC)
            contacts = cast(Table, Contact.__table__)
            with container.db.transaction() as session:
                insert_rows(session, contacts, ("workspace_id", "external_id", "attributes", "created_at",
                                                "updated_at"),
                            [(owner.workspace_id, f"user-{n}", {}, now, now) for n in range(args.users)])
            with container.db.read() as session:
                contact_ids = list(session.scalars(Contact.__table__.select().with_only_columns(Contact.id)))
            rows = _rows(build_bodies(args.batches, args.users), owner.workspace_id, contact_ids)
            events = cast(Table, Event.__table__)
            warm = len(rows) // 10
            groups = [rows[i:i + args.group] for i in range(0, len(rows), args.group)]
            warm_groups = max(1, warm // args.group)
            for group in groups[:warm_groups]:
                with container.db.transaction() as session:
                    insert_rows(session, events, _COLUMNS, group)
            timed = groups[warm_groups:]
            started, cpu_started = time.perf_counter(), time.process_time()
            for group in timed:
                with container.db.transaction() as session:
                    insert_rows(session, events, _COLUMNS, group)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            container.close()
        finally:
            if pg_name and args.postgres:
                drop_postgres_database(args.postgres, pg_name)
    count = sum(len(group) for group in timed)
    rate = count / elapsed
    baseline_name, baseline = insert_baseline(bool(args.postgres))
    print(f"database                 {'postgresql' if args.postgres else 'sqlite'}")
    print(f"events                   {count:,} timed ({args.group} per transaction, after {warm_groups} untimed)")
    print(f"event_store_events_per_s {rate:,.0f}")
    print(f"cpu_us_per_event         {cpu * 1e6 / count:.1f} (this process)")
    if baseline:
        print(f"{baseline_name:24} {baseline:,.0f}")
        print(f"ratio                    {rate / baseline:.3f}")


if __name__ == "__main__":
    main()
