#!/usr/bin/env python3
"""Ingest throughput: `/v1/batch` with 100 realistic events a request, through a real uvicorn server,
end to end into the database. Prints events/s and its ratio to the raw bulk-insert limit of the same
database measured in the same run (`../shared/bench/baselines.py`).

    .venv/bin/python bench/ingest_batch.py                       # SQLite file (fresh, migrated)
    .venv/bin/python bench/ingest_batch.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    CADENZA_TEST_DATABASE_URL=... .venv/bin/python bench/ingest_batch.py --postgres-from-env

The server runs in its own process (one uvicorn worker, access log off) on a free loopback port; the
clients (keep-alive connections on one asyncio loop, writing the requests' bytes as they are) send pre-built
bodies, so the client side costs little. Each client waits for its answer before it sends again, and the server
writes the requests that arrive during one transaction together in the next (group commit): `--clients` sets how
many can be waiting at once. The default, 48, keeps the server's writer busy, so the figure is one process's
capacity (on the 2-core machine: 16 senders ~10-12k events/s on SQLite, 32 ~15-18k, 48 ~17-20k, 96 ~19k);
with 4 the server is mostly idle, waiting for the next request.
The first `--warmup` batches are sent but not timed (the steady state is what counts); on PostgreSQL, a
dedicated database is created (and dropped afterwards) and ANALYZEd after the warm-up, as autovacuum does
for any live database: a brand-new one has no statistics and plans lookups badly.

`--servers N` (PostgreSQL only) runs N server processes, as `cadenza serve --no-worker` scales out, each on
its own port; the client threads are spread over them. The issue's figure is for one process; report N
processes beside it, never instead of it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from common import create_postgres_database, drop_postgres_database, insert_baseline

REPO = Path(__file__).resolve().parents[1]
BATCH_SIZE = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- realistic events ----------------------------------------------------------------------------

PRODUCTS = [(f"sku-{i:04d}", name, category, price) for i, (name, category, price) in enumerate([
    ("Trail Runner 3", "Shoes", 119.0), ("City Backpack", "Bags", 79.5), ("Merino Tee", "Apparel", 45.0),
    ("Rain Shell", "Apparel", 189.0), ("Camp Mug", "Outdoor", 14.9), ("Headlamp 400", "Outdoor", 39.0),
    ("Wool Socks", "Apparel", 19.0), ("Water Filter", "Outdoor", 59.0),
])]
PAGES = [("Home", "/"), ("Pricing", "/pricing"), ("Blog", "/blog/spring-trails"), ("Shop", "/shop"),
         ("Docs", "/docs/getting-started")]
FIRST = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Barbara", "Ken", "Radia"]
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
LAST = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Berners-Lee", "Liskov", "Thompson"]


def _context(rng: random.Random, page: tuple[str, str]) -> dict[str, Any]:
    return {
        "library": {"name": "analytics.js", "version": "5.2.0"},
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "userAgent": USER_AGENT,
        "page": {"path": page[1], "url": f"https://shop.example.com{page[1]}", "title": page[0],
                 "referrer": "https://www.google.com/", "search": ""},
    }


def _message(rng: random.Random, kind: str, user: int, now: dt.datetime) -> dict[str, Any]:
    page = rng.choice(PAGES)
    timestamp = (now - dt.timedelta(seconds=rng.randrange(0, 600))).isoformat().replace("+00:00", "Z")
    message: dict[str, Any] = {"type": kind, "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
                               "timestamp": timestamp, "sentAt": now.isoformat().replace("+00:00", "Z"),
                               "context": _context(rng, page), "integrations": {}}
    if kind == "anonymous_page":
        message.update(type="page", anonymousId=f"visitor-{rng.getrandbits(48):x}", name=page[0],
                       properties={"path": page[1], "url": f"https://shop.example.com{page[1]}", "title": page[0]})
        return message
    message.update(userId=f"user-{user}", anonymousId=f"anon-{user}")
    if kind == "identify":
        first, last = rng.choice(FIRST), rng.choice(LAST)
        message["traits"] = {"email": f"{first}.{last}.{user}@example.com".lower(), "firstName": first,
                             "lastName": last, "plan": rng.choice(["free", "pro", "team"]),
                             "country": rng.choice(["GB", "FR", "DE", "US"])}
    elif kind == "page":
        message.update(name=page[0], properties={"path": page[1], "url": f"https://shop.example.com{page[1]}",
                                                 "title": page[0], "referrer": "https://www.google.com/"})
    else:
        sku, name, category, price = rng.choice(PRODUCTS)
        event = rng.choices(["Product Viewed", "Order Completed", "Email Opened"], weights=[6, 1, 3])[0]
        properties: dict[str, Any] = {"product_id": sku, "sku": sku, "name": name, "category": category,
                                      "price": price, "currency": "EUR"}
        if event == "Order Completed":
            properties = {"order_id": f"o-{rng.getrandbits(32):x}", "revenue": price, "currency": "EUR",
                          "products": [{"product_id": sku, "name": name, "price": price, "quantity": 1}]}
        elif event == "Email Opened":
            properties = {"campaign_id": "spring-sale", "email_subject": "Spring trails are open"}
        message.update(event=event, properties=properties)
    return message


def build_bodies(batches: int, users: int, seed: int = 7) -> list[bytes]:
    """Each batch: ~20 people with a few events each, a few anonymous visitors, now and then an identify."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    bodies = []
    for _ in range(batches):
        messages: list[dict[str, Any]] = []
        while len(messages) < BATCH_SIZE:
            user = rng.randrange(users)
            for _ in range(rng.randint(3, 6)):
                kind = rng.choices(["track", "page", "identify", "anonymous_page"], weights=[60, 25, 5, 10])[0]
                messages.append(_message(rng, kind, user, now))
        bodies.append(orjson.dumps({"batch": messages[:BATCH_SIZE], "sentAt": now.isoformat()}))
    return bodies


# ---- the server ----------------------------------------------------------------------------------


def serve(url: str, port: int, data_dir: str) -> None:
    """Runs in the server subprocess: the full app (API + UI), as `cadenza serve --no-worker` builds it."""
    import uvicorn

    from cadenza.bootstrap import build_container
    from cadenza.config import Settings
    from cadenza.core.heap import settle_server_heap
    from cadenza.web import create_server_app

    container = build_container(Settings(database_url=url, secret_key="bench-secret", data_dir=Path(data_dir)))
    app = create_server_app(container)
    settle_server_heap()  # as `cadenza serve` does once started
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def prepare(url: str) -> str:
    """Migrates the database and returns a fresh ingest key of a new workspace."""
    from cadenza.auth import Scope
    from cadenza.bootstrap import build_container
    from cadenza.config import Settings
    from cadenza.schema import upgrade

    upgrade(url)
    with tempfile.TemporaryDirectory() as scratch:
        container = build_container(Settings(database_url=url, secret_key="bench-secret", data_dir=Path(scratch)))
        owner = container.access.create_workspace("Bench", "bench@example.com", "bench-password-123", "Bench")
        _key, raw = container.access.create_api_key(owner, "bench ingest", Scope.INGEST)
        container.close()
    return raw


def count_events(url: str) -> int:
    from sqlalchemy import create_engine, text

    from cadenza.storage.database import normalise_url

    engine = create_engine(normalise_url(url))
    with engine.connect() as connection:
        count = int(connection.execute(text("SELECT count(*) FROM events")).scalar_one())
    engine.dispose()
    return count


def analyze(url: str) -> None:
    from sqlalchemy import create_engine, text

    from cadenza.storage.database import normalise_url

    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()


def run_clients(ports: list[int], key: str, bodies: list[bytes], clients: int,
                deadline: float) -> tuple[float, int]:
    """`clients` keep-alive connections, each sending its next batch once the last one was answered.

    One asyncio loop writes the requests' bytes as they are and reads the answers: a lean client, so that the
    CPU the machine has goes to the server (and the database), as when the senders are other machines."""
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    queue = list(reversed(bodies))
    failures: list[str] = []

    async def client(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\n"
                "Content-Type: application/json\r\nContent-Length: ")
        try:
            while queue and time.monotonic() < deadline:
                body = queue.pop()
                writer.write(f"{head}{len(body)}\r\n\r\n".encode() + body)
                status, length = 0, 0
                for line in (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n"):
                    if line.startswith(b"HTTP/1.1 "):
                        status = int(line[9:12])
                    elif line.lower().startswith(b"content-length:"):
                        length = int(line[15:])
                answer = await reader.readexactly(length)
                if status != 200 or orjson.loads(answer) != {"success": True}:
                    failures.append(f"{status} {answer[:200]!r}")
        finally:
            writer.close()

    async def all_clients() -> None:
        await asyncio.gather(*(client(ports[i % len(ports)]) for i in range(clients)))

    started = time.perf_counter()
    asyncio.run(all_clients())
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return elapsed, len(bodies) - len(queue)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far: less sensitive to a busy machine than events/s."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited before it was ready")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the server did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batches", type=int, default=400, help="requests of 100 events (default 400)")
    parser.add_argument("--clients", type=int, default=48, help="concurrent client threads (default 48)")
    parser.add_argument("--users", type=int, default=5000, help="distinct people the events are about")
    parser.add_argument("--warmup", type=int, default=40, help="batches sent first and not timed (default 40)")
    parser.add_argument("--max-seconds", type=float, default=120, help="stop sending after this long")
    parser.add_argument("--servers", type=int, default=1, help="server processes (PostgreSQL only; default 1)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL (a database is made and dropped)")
    parser.add_argument("--postgres-from-env", action="store_true", help="use $CADENZA_TEST_DATABASE_URL")
    parser.add_argument("--serve", nargs=3, metavar=("URL", "PORT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2])
        return
    postgres = args.postgres or (os.environ.get("CADENZA_TEST_DATABASE_URL") if args.postgres_from_env else None)
    if args.servers > 1 and not postgres:
        raise SystemExit("SQLite has one writer: --servers needs PostgreSQL")
    with tempfile.TemporaryDirectory() as scratch:
        pg_name = None
        if postgres:
            url, pg_name = create_postgres_database(postgres)
        else:
            url = f"sqlite:///{scratch}/bench.db"
        servers: list[subprocess.Popen[bytes]] = []
        try:
            key = prepare(url)
            bodies = build_bodies(args.batches, args.users)
            ports = [free_port() for _ in range(args.servers)]
            for port in ports:
                servers.append(subprocess.Popen([sys.executable, __file__, "--serve", url, str(port), scratch],
                                                env={**os.environ, "PYTHONPATH": str(REPO / "src")}))
            for port, server in zip(ports, servers, strict=True):
                wait_ready(port, server)
            warmup = bodies[:args.warmup]
            run_clients(ports, key, warmup, args.clients, time.monotonic() + args.max_seconds)
            if postgres:
                analyze(url)  # what autovacuum does to any live database; a fresh one has no statistics yet
            client_cpu_started = time.process_time()
            elapsed, sent = run_clients(ports, key, bodies[args.warmup:], args.clients,
                                        time.monotonic() + args.max_seconds)
            client_cpu = time.process_time() - client_cpu_started
            sent += len(warmup)
            stored = count_events(url)
            server_cpu = sum(cpu_seconds(server.pid) for server in servers)
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(10)
            if postgres and pg_name:
                drop_postgres_database(postgres, pg_name)
    expected = sent * BATCH_SIZE
    if stored != expected:
        raise SystemExit(f"stored {stored} events, expected {expected}")
    rate = (sent - args.warmup) * BATCH_SIZE / elapsed
    if postgres:
        os.environ["CADENZA_TEST_DATABASE_URL"] = postgres
    baseline_name, baseline = insert_baseline(bool(postgres))
    database = "postgresql" if postgres else "sqlite"
    print(f"database                 {database}")
    print(f"events stored            {stored:,} ({sent} batches of {BATCH_SIZE}, {args.clients} clients, "
          f"the first {args.warmup} batches not timed)")
    print(f"server processes         {args.servers}")
    print(f"ingest_events_per_s      {rate:,.0f}")
    print(f"server_cpu_ms_per_batch  {server_cpu * 1000 / sent:.2f} (CPU of the server processes per "
          f"{BATCH_SIZE} events, warm-up included)")
    # The clients share the machine's cores with the server (and the database): what they take is not the server's.
    print(f"client_cpu_ms_per_batch  {client_cpu * 1000 / (sent - args.warmup):.2f} (CPU of this process's "
          f"clients per {BATCH_SIZE} events, timed part)")
    if baseline:
        print(f"{baseline_name:24} {baseline:,.0f}")
        print(f"ratio                    {rate / baseline:.3f}")
    else:
        print(f"{baseline_name:24} n/a")


if __name__ == "__main__":
    main()
