#!/usr/bin/env python3
"""Job queue throughput: jobs claimed and completed per second through `JobQueue` (batches of 50: one claim
transaction, one completion transaction), and its ratio to the same work in hand-written SQL on the raw
driver in the same run (one statement to claim a batch, one to complete it), on a fresh migrated database.

    .venv/bin/python bench/queue_throughput.py                   # SQLite file
    .venv/bin/python bench/queue_throughput.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

On PostgreSQL it also runs 4 claimers side by side (FOR UPDATE SKIP LOCKED), for both. Handlers do nothing,
so this is the queue's own cost per job. A dedicated PostgreSQL database is created and dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, delete, text

from cadenza.schema import upgrade
from cadenza.storage import Database
from cadenza.storage.database import normalise_url
from cadenza.storage.models import Job
from cadenza.storage.queue import JobQueue, enqueue_many

BATCH = 50
NOW = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


def fill(db: Database, jobs: int) -> None:
    with db.transaction() as session:
        session.execute(delete(Job))
        for start in range(0, jobs, 5000):
            enqueue_many(session, [{"kind": "bench.noop", "payload": {"n": i}}
                                   for i in range(start, min(start + 5000, jobs))], now=NOW)


def cadenza_drain(db: Database) -> Callable[[str], int]:
    queue = JobQueue(db)

    def drain(worker: str) -> int:
        done = 0
        while jobs := queue.claim(worker, NOW, BATCH):
            done += queue.complete([j.id for j in jobs], NOW, worker_id=worker)
        return done

    return drain


def raw_drain(db: Database) -> Callable[[str], int]:
    """The least SQL that does the same: claim a batch (returning what a handler needs), then complete it."""
    lease = (NOW + dt.timedelta(minutes=5))
    if db.is_postgres:
        claim = ("UPDATE jobs SET status='running', claimed_by=%s, lease_until=%s, attempts=attempts+1 "
                 "WHERE id IN (SELECT id FROM jobs WHERE status='queued' AND due_at<=%s ORDER BY due_at, id "
                 "LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id, kind, payload")
        finish = "UPDATE jobs SET status='done', finished_at=%s, lease_until=NULL WHERE id = ANY(%s)"

        def drain(worker: str) -> int:
            done = 0
            with db.engine.raw_connection() as connection:  # type: ignore[attr-defined]
                cursor = connection.cursor()
                while True:
                    cursor.execute(claim, (worker, lease, NOW, BATCH))
                    ids = [row[0] for row in cursor.fetchall()]
                    connection.commit()
                    if not ids:
                        return done
                    cursor.execute(finish, (NOW, ids))
                    connection.commit()
                    done += len(ids)

        return drain
    naive = NOW.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it
    claim_sqlite = ("UPDATE jobs SET status='running', claimed_by=?, lease_until=?, attempts=attempts+1 "
                    "WHERE id IN (SELECT id FROM jobs WHERE status='queued' AND due_at<=? ORDER BY due_at, id "
                    "LIMIT ?) RETURNING id, kind, payload")

    def drain_sqlite(worker: str) -> int:
        done = 0
        with db.engine.raw_connection() as connection:  # type: ignore[attr-defined]
            while True:
                connection.execute("BEGIN IMMEDIATE")
                ids = [row[0] for row in connection.execute(claim_sqlite, (worker, naive, naive, BATCH))]
                connection.execute("COMMIT")
                if not ids:
                    return done
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(f"UPDATE jobs SET status='done', finished_at=?, lease_until=NULL "
                                   f"WHERE id IN ({','.join('?' * len(ids))})", (naive, *ids))
                connection.execute("COMMIT")
                done += len(ids)

    return drain_sqlite


def measure(db: Database, make: Callable[[Database], Callable[[str], int]], jobs: int, claimers: int) -> float:
    fill(db, jobs)
    drain = make(db)
    counts = [0] * claimers

    def run(index: int) -> None:
        counts[index] = drain(f"bench-{index}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(claimers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert sum(counts) == jobs, (sum(counts), jobs)
    return jobs / elapsed


def report(db: Database, label: str, jobs: int, claimers: int) -> None:
    ours = measure(db, cadenza_drain, jobs, claimers)
    raw = measure(db, raw_drain, jobs, claimers)
    print(f"{label:<28} {claimers} claimer(s): {ours:9,.0f} jobs/s   hand-written SQL {raw:9,.0f} jobs/s   "
          f"ratio {ours / raw:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL server URL; a scratch database is created on it")
    parser.add_argument("--jobs", type=int, default=20_000)
    args = parser.parse_args()
    if args.postgres:
        name = f"cadenza_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(normalise_url(args.postgres), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = normalise_url(args.postgres).rsplit("/", 1)[0] + f"/{name}"
        try:
            upgrade(url)
            db = Database.from_url(url)
            report(db, "PostgreSQL", args.jobs, 1)
            report(db, "PostgreSQL", args.jobs, 4)
            db.dispose()
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        upgrade(url)
        db = Database.from_url(url)
        report(db, "SQLite", args.jobs, 1)
        db.dispose()


if __name__ == "__main__":
    main()
