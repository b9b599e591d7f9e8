#!/usr/bin/env python3
"""CPU per API-key check: what `AccessControl.authenticate_api_key` costs each ingest request.

    .venv/bin/python bench/api_key_auth.py                  # SQLite file in a temporary directory
    .venv/bin/python bench/api_key_auth.py --postgres       # PostgreSQL (CADENZA_TEST_DATABASE_URL or the
                                                            # local default), in a database made and dropped

Measures, in alternating rounds (the machine is shared and noisy), the process CPU time
(time.process_time) per call of:
  * the ingest path's key check (the figure): `identify_api_key` (no read for a key this process knows) plus
    `confirm_api_key` inside the request's transaction (an open one: the request opens it anyway),
  * authenticate_api_key (what the REST API does each request: one read of its own),
  * the same lookup written by hand: one `SELECT … FROM api_keys WHERE key_hash = ?` on a bare DB-API
    connection held open (the baseline: the least a check that asks the database can cost),
  * one POST /v1/track through the ASGI app (httpx ASGITransport), for scale: the whole request the check is
    part of.
Prints the median of the rounds and the ratio of the figure to the baseline. The CPU time is this process's
only: PostgreSQL's own work happens in the server.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import create_postgres_database, drop_postgres_database

from cadenza.auth import Scope
from cadenza.bootstrap import Container, build_container
from cadenza.config import Settings
from cadenza.schema import upgrade


def cpu_per_call(function: Callable[[], object], calls: int) -> float:
    """Microseconds of this process's CPU per call."""
    started = time.process_time()
    for _ in range(calls):
        function()
    return (time.process_time() - started) / calls * 1e6


def ingest_check(container: Container, raw_key: str, calls: int) -> float:
    """Microseconds of CPU per key check as ingest makes it: `identify_api_key`, then `confirm_api_key` in the
    request's transaction (one open transaction here, so only the check's own cost is counted)."""
    access = container.access
    if not hasattr(access, "confirm_api_key"):  # before: a per-process cache, no read in the transaction
        return cpu_per_call(lambda: access.authenticate_api_key(raw_key), calls)
    with container.db.transaction() as session:
        return cpu_per_call(lambda: access.confirm_api_key(session, access.identify_api_key(raw_key)), calls)


def bare_lookup(container: Container, raw_key: str) -> Callable[[], object]:
    connection = container.db.engine.raw_connection()
    marker = "%s" if container.db.is_postgres else "?"
    sql = f"SELECT id, workspace_id, prefix, name, scope, revoked_at FROM api_keys WHERE key_hash = {marker}"
    key_hash = hashlib.sha256(raw_key.encode()).hexdigest()

    def lookup() -> object:
        cursor = connection.cursor()
        cursor.execute(sql, (key_hash,))
        row = cursor.fetchone()
        cursor.close()
        connection.rollback()  # as a read that ends its transaction would
        return row

    return lookup


def track_requests(container: Container, raw_key: str, calls: int) -> float:
    """Microseconds of CPU per POST /v1/track through the whole ASGI stack."""
    from cadenza.api import create_app

    app = create_app(container)

    async def run() -> float:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            body = {"userId": "u1", "event": "Viewed", "properties": {"n": 1}}
            await client.post("/v1/track", json=body, auth=(raw_key, ""))  # warm up
            started = time.process_time()
            for _ in range(calls):
                answer = await client.post("/v1/track", json=body, auth=(raw_key, ""))
                assert answer.status_code == 200, answer.text
            return (time.process_time() - started) / calls * 1e6

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--postgres", nargs="?", const=os.environ.get(
        "CADENZA_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"), default=None,
        help="PostgreSQL server URL (a dedicated database is created on it and dropped after)")
    args = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="cadenza-bench-")
    name = None
    if args.postgres:
        url, name = create_postgres_database(args.postgres)
    else:
        url = f"sqlite:///{scratch.name}/bench.db"
    try:
        upgrade(url)
        container = build_container(Settings(database_url=url, secret_key="bench", data_dir=Path(scratch.name)))
        owner = container.access.create_workspace("Bench", "bench@example.com", "bench-password-1")
        _key, raw = container.access.create_api_key(owner, "bench", Scope.INGEST)
        exact = lambda: container.access.authenticate_api_key(raw)  # noqa: E731
        bare = bare_lookup(container, raw)
        exact(), bare()  # warm up (the first use also records the key's last use)
        checks, exacts, bares = [], [], []
        for _ in range(args.rounds):
            checks.append(ingest_check(container, raw, args.calls))
            exacts.append(cpu_per_call(exact, args.calls))
            bares.append(cpu_per_call(bare, args.calls))
        tracks = [track_requests(container, raw, max(args.calls // 10, 100)) for _ in range(5)]
        container.close()
    finally:
        if name is not None:
            drop_postgres_database(args.postgres, name)
        scratch.cleanup()

    check_us, exact_us = statistics.median(checks), statistics.median(exacts)
    bare_us, track_us = statistics.median(bares), statistics.median(tracks)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{database}: CPU per call, median of {args.rounds} rounds of {args.calls} calls")
    print(f"  ingest key check          {check_us:8.1f} µs   (rounds: {', '.join(f'{v:.1f}' for v in checks)})")
    print(f"  authenticate_api_key      {exact_us:8.1f} µs   (rounds: {', '.join(f'{v:.1f}' for v in exacts)})")
    print(f"  bare SELECT by key_hash   {bare_us:8.1f} µs   (baseline)")
    print(f"  ratio to baseline         {check_us / bare_us:8.2f}x (ingest check), {exact_us / bare_us:.2f}x (exact)")
    print(f"  POST /v1/track (ASGI)     {track_us:8.1f} µs   (rounds: {', '.join(f'{v:.0f}' for v in tracks)}; "
          f"the ingest check is {check_us / track_us:.1%} of it)")


if __name__ == "__main__":
    main()
