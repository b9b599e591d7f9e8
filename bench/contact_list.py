#!/usr/bin/env python3
"""Contact list latency: GET /api/v1/contacts with filters over 1,000,000 contacts.

    .venv/bin/python bench/contact_list.py                  # SQLite file in a temporary directory
    .venv/bin/python bench/contact_list.py --postgres       # PostgreSQL (CADENZA_TEST_DATABASE_URL or the
                                                            # local default), in a database made and dropped
    .venv/bin/python bench/contact_list.py --rows 100000    # smaller, quicker

Loads the contacts (and 10,000 companies, ~460,000 tags) straight into a freshly migrated database in
streamed chunks, with the secondary indexes dropped during the load and rebuilt after it, then ANALYZE.
Then, for each filter, sends requests through the ASGI app (httpx ASGITransport: no network, the whole
FastAPI stack: auth, validation, service, serialisation) and times the same query written by hand in SQL
(the page, its tags and its company names) on a bare DB-API connection, with the same varied values.
Prints p50/p95 of both and the ratio API p95 / SQL p95. The issue's target: API p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from cadenza.api import create_app  # noqa: E402
from cadenza.auth import Scope  # noqa: E402
from cadenza.bootstrap import build_container  # noqa: E402
from cadenza.config import Settings  # noqa: E402
from cadenza.contacts.schemas import FieldCreate  # noqa: E402
from cadenza.schema import upgrade  # noqa: E402
from cadenza.storage.database import normalise_url  # noqa: E402

CHUNK = 20_000
COMPANIES = 10_000
BASE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
FIRST = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Barbara", "Ken", "Radia", "Mary",
         "John", "Maria", "James", "Sofia", "Mohamed", "Wei", "Olga", "Pedro", "Aiko", "Noah", "Emma", "Liam",
         "Chloe", "Lucas", "Zoe", "Ivan", "Fatima", "Hugo", "Ines"]
LAST = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Liskov", "Thompson", "Perlman",
        "Smith", "Garcia", "Müller", "Rossi", "Dubois", "Nakamura", "Kowalski", "Silva", "Novak", "Jensen",
        "Okafor", "Haddad", "Ivanova", "Chen", "Kim", "Lee", "Martin", "Bernard", "Schmidt", "Moreau", "Costa"]
DOMAINS = [f"mail{n}.example.com" for n in range(40)] + ["gmail.com", "outlook.com", "yahoo.com"]
PLANS = ["free"] * 60 + ["pro"] * 25 + ["team"] * 10 + ["enterprise"] * 5
TAGS = [("newsletter", 0.30), ("vip", 0.10), ("beta", 0.05), ("churn-risk", 0.01)]
CONTACT_COLUMNS = ["id", "workspace_id", "external_id", "email", "phone", "first_name", "last_name", "company_id",
                   "attributes", "created_at", "updated_at"]


def _baselines() -> Any:
    candidate = REPO.parent / "shared" / "bench"
    if not (candidate / "baselines.py").exists():
        return None
    sys.path.insert(0, str(candidate))
    import baselines

    return baselines


# ---- data ----------------------------------------------------------------------------------------


def contact_rows(workspace_id: int, start: int, stop: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(start)
    for i in range(start, stop):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        created = BASE + dt.timedelta(seconds=25 * i)
        updated = created + dt.timedelta(days=rng.randrange(1, 60)) if rng.random() < 0.05 else created
        yield (i, workspace_id, f"u{i:07d}" if rng.random() < 0.8 else None,
               f"{first}.{last}.{i}@{rng.choice(DOMAINS)}".lower(),
               f"+1{2_000_000_000 + i}" if rng.random() < 0.5 else None, first, last,
               rng.randrange(1, COMPANIES + 1) if rng.random() < 0.6 else None,
               json.dumps({"plan": rng.choice(PLANS), "seats": rng.randrange(1, 500)}), created, updated)


def tag_rows(workspace_id: int, start: int, stop: int, first_tag_id: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(-start)
    tag_id = first_tag_id
    for i in range(start, stop):
        for tag, share in TAGS:
            if rng.random() < share:
                yield (tag_id, workspace_id, i, tag)
                tag_id += 1


class Loader:
    """Bulk load with the secondary indexes of the big tables dropped, then rebuilt."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_postgres = url.startswith("postgresql")

    def load(self, workspace_id: int, rows: int) -> float:
        engine = create_engine(self.url)
        started = time.perf_counter()
        raw = engine.raw_connection()
        try:
            indexes = self._drop_indexes(raw, ["contacts", "contact_tags"])
            now = dt.datetime.now(dt.UTC)
            self._insert(raw, "companies", ["id", "workspace_id", "name", "domain", "attributes", "created_at",
                                            "updated_at"],
                         ((n, workspace_id, f"Company {n}", f"company{n}.example.com", "{}", now, now)
                          for n in range(1, COMPANIES + 1)))
            tag_id = 1
            for start in range(1, rows + 1, CHUNK):
                stop = min(start + CHUNK, rows + 1)
                self._insert(raw, "contacts", CONTACT_COLUMNS, contact_rows(workspace_id, start, stop))
                tags = list(tag_rows(workspace_id, start, stop, tag_id))
                tag_id += len(tags)
                self._insert(raw, "contact_tags", ["id", "workspace_id", "contact_id", "tag"], iter(tags))
                print(f"\r  loaded {stop - 1:,} contacts", end="", flush=True)
            print()
            cursor = raw.cursor()
            for statement in indexes:
                cursor.execute(statement)
            if self.is_postgres:
                for table in ("contacts", "contact_tags", "companies"):
                    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"(SELECT max(id) FROM {table}))")
            raw.commit()
            cursor.close()
        finally:
            raw.close()
        self._analyze(engine)
        engine.dispose()
        return time.perf_counter() - started

    def _analyze(self, engine: Any) -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE" if self.is_postgres else "ANALYZE"))

    def _drop_indexes(self, raw: Any, tables: list[str]) -> list[str]:
        cursor = raw.cursor()
        if self.is_postgres:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = ANY(%s) AND NOT EXISTS "
                           "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", (tables,))
        else:
            marks = ",".join("?" * len(tables))
            cursor.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                           f"AND tbl_name IN ({marks})", tables)
        found = list(cursor.fetchall())
        for name, _sql in found:
            cursor.execute(f'DROP INDEX "{name}"')
        raw.commit()
        cursor.close()
        return [sql for _name, sql in found]

    def _insert(self, raw: Any, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
        cursor = raw.cursor()
        if self.is_postgres:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ",".join("?" * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                               (tuple(_sqlite_value(v) for v in row) for row in rows))
        raw.commit()
        cursor.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):  # the format SQLAlchemy's SQLite DateTime stores (naive UTC)
        return value.astimezone(dt.UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


# ---- the queries, through the API and by hand ---------------------------------------------------


Case = tuple[dict[str, Any], str, list[Any]]


def scenarios(rows: int, is_postgres: bool, emails: list[str]) -> list[tuple[str, Callable[[random.Random], Case]]]:
    """(name, make) where make(rng) → (API query params, hand-written SQL, its parameters)."""
    page = "SELECT * FROM contacts c WHERE c.workspace_id = ? {where} ORDER BY c.id DESC LIMIT 51"

    def sql(where: str = "") -> str:
        return page.format(where=where)

    def stamp(i: int) -> Any:
        moment = BASE + dt.timedelta(seconds=25 * i)
        return moment if is_postgres else _sqlite_value(moment)

    def prefix(column: str, value: str) -> tuple[str, list[Any]]:
        if is_postgres:
            return f"{column} LIKE ?", [value + "%"]
        return f"({column} >= ? AND {column} < ?)", [value, value + "\U0010ffff"]

    def attr(key: str, value: Any) -> tuple[str, list[Any]]:
        if is_postgres:
            return "c.attributes @> ?::jsonb", [json.dumps({key: value})]
        return f"json_extract(c.attributes, '$.\"{key}\"') = ?", [value]

    def q_search(rng: random.Random) -> tuple[dict[str, Any], str, list[Any]]:
        kind = rng.random()
        if kind < 0.4:
            value = rng.choice(FIRST)[:3].lower()
        elif kind < 0.7:
            value = rng.choice(LAST)[:4].lower()
        else:
            value = f"{rng.choice(FIRST)}.{rng.choice(LAST)}.{rng.randrange(1, rows)}".lower()[:-1]
        parts = [prefix("c.email", value), prefix("c.first_name_lower", value), prefix("c.last_name_lower", value),
                 prefix("c.external_id", value)]
        clause = " OR ".join(p[0] for p in parts)
        return {"q": value}, sql(f"AND ({clause})"), [v for p in parts for v in p[1]]

    def tagged(tag: str) -> Callable[[random.Random], tuple[dict[str, Any], str, list[Any]]]:
        return lambda rng: ({"tag": tag}, sql("AND c.id IN (SELECT contact_id FROM contact_tags "
                                              "WHERE workspace_id = ? AND tag = ?)"), ["WS", tag])

    def plan(value: str) -> Callable[[random.Random], tuple[dict[str, Any], str, list[Any]]]:
        clause, params = attr("plan", value)
        return lambda rng: ({"attr.plan": value}, sql(f"AND {clause}"), params)

    def email(rng: random.Random) -> tuple[dict[str, Any], str, list[Any]]:
        found = rng.choice(emails)
        return {"email": found}, sql("AND c.email = ?"), [found]

    def created_after(share: float) -> Callable[[random.Random], tuple[dict[str, Any], str, list[Any]]]:
        def make(rng: random.Random) -> tuple[dict[str, Any], str, list[Any]]:
            i = int(rows * (1 - share * rng.uniform(0.5, 1.5)))
            moment = BASE + dt.timedelta(seconds=25 * i)
            return {"created_after": moment.isoformat()}, sql("AND c.created_at > ?"), [stamp(i)]
        return make

    def company(rng: random.Random) -> tuple[dict[str, Any], str, list[Any]]:
        company_id = rng.randrange(1, COMPANIES)
        return {"company_id": company_id}, sql("AND c.company_id = ?"), [company_id]

    def deep_page(rng: random.Random) -> tuple[dict[str, Any], str, list[Any]]:
        from cadenza.core.pagination import encode_cursor

        last = rng.randrange(1000, rows)
        return {"cursor": encode_cursor([last])}, sql("AND c.id < ?"), [last]

    def vip_pro(rng: random.Random) -> tuple[dict[str, Any], str, list[Any]]:
        clause, params = attr("plan", "pro")
        return ({"tag": "vip", "attr.plan": "pro"},
                sql(f"AND c.id IN (SELECT contact_id FROM contact_tags WHERE workspace_id = ? AND tag = ?) "
                    f"AND {clause}"), ["WS", "vip", *params])

    return [
        ("no filter", lambda rng: ({}, sql(), [])),
        ("deep page (cursor)", deep_page),
        ("tag=newsletter (30%)", tagged("newsletter")),
        ("tag=churn-risk (1%)", tagged("churn-risk")),
        ("email=exact", email),
        ("q=prefix", q_search),
        ("created_after (last 1%)", created_after(0.01)),
        ("created_after (last 50%)", created_after(0.5)),
        ("company_id", company),
        ("attr.plan=pro (25%)", plan("pro")),
        ("attr.plan=enterprise (5%)", plan("enterprise")),
        ("tag=vip & attr.plan=pro", vip_pro),
    ]


def hand_written(raw: Any, workspace_id: int, query: str, params: list[Any], is_postgres: bool) -> int:
    """The page by hand, then its tags and company names, as the service does: three round trips."""
    params = [workspace_id if p == "WS" else p for p in params]
    cursor = raw.cursor()
    placeholder = "%s" if is_postgres else "?"
    cursor.execute(query.replace("?", placeholder), [workspace_id, *params])
    rows = cursor.fetchall()[:50]
    if rows:
        ids = [r[0] for r in rows]
        marks = ",".join([placeholder] * len(ids))
        cursor.execute(f"SELECT contact_id, tag FROM contact_tags WHERE workspace_id = {placeholder} "
                       f"AND contact_id IN ({marks}) ORDER BY contact_id, tag", [workspace_id, *ids])
        cursor.fetchall()
        companies = sorted({r[8] for r in rows if r[8] is not None})
        if companies:
            marks = ",".join([placeholder] * len(companies))
            cursor.execute(f"SELECT id, name FROM companies WHERE workspace_id = {placeholder} AND id IN ({marks})",
                           [workspace_id, *companies])
            cursor.fetchall()
    if is_postgres:
        raw.rollback()
    cursor.close()
    return len(rows)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(url: str, workspace_id: int, secret: str, rows: int, requests: int,
                  is_postgres: bool) -> list[tuple[str, float, float, float, float, int]]:
    container = build_container(Settings(database_url=url, secret_key="bench", data_dir=Path(tempfile.gettempdir())))
    headers = {"Authorization": f"Bearer {secret}"}
    raw = container.db.engine.raw_connection()
    cursor = raw.cursor()
    cursor.execute("SELECT email FROM contacts WHERE id % 9973 = 0")
    emails = [row[0] for row in cursor.fetchall()]
    cursor.close()
    results = []
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for name, make in scenarios(rows, is_postgres, emails):
            rng = random.Random(name)
            cases = [make(rng) for _ in range(requests)]
            api_times: list[float] = []
            sql_times: list[float] = []
            found = 0
            for warm in cases[:5]:  # warm caches and plans
                await client.get("/api/v1/contacts", params=warm[0], headers=headers)
                hand_written(raw, workspace_id, warm[1], warm[2], is_postgres)
            for params, query, query_params in cases:
                started = time.perf_counter()
                response = await client.get("/api/v1/contacts", params=params, headers=headers)
                api_times.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: {response.status_code} {response.text}")
                found += len(response.json()["data"])
                started = time.perf_counter()
                hand_written(raw, workspace_id, query, query_params, is_postgres)
                sql_times.append(time.perf_counter() - started)
            results.append((name, percentile(api_times, 0.5) * 1000, percentile(api_times, 0.95) * 1000,
                            percentile(sql_times, 0.5) * 1000, percentile(sql_times, 0.95) * 1000,
                            found // len(cases)))
            print(f"  {name:28} API p95 {results[-1][2]:7.1f} ms", flush=True)
    raw.close()
    container.close()
    return results


def prepare(url: str) -> tuple[int, str]:
    """A workspace with its custom fields and a read key, made through the services."""
    container = build_container(Settings(database_url=url, secret_key="bench", data_dir=Path(tempfile.gettempdir())))
    owner = container.access.create_workspace("Bench", "bench@example.com", "bench-password-1")
    container.fields.create_field(owner, FieldCreate(key="plan", label="Plan", type="enum",  # type: ignore[arg-type]
                                                     options=["free", "pro", "team", "enterprise"]))
    container.fields.create_field(owner, FieldCreate(key="seats", label="Seats", type="number"))  # type: ignore[arg-type]
    _key, secret = container.access.create_api_key(owner, "bench", Scope.READ)
    container.close()
    return owner.workspace_id, secret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per filter")
    parser.add_argument("--postgres", nargs="?", const=os.environ.get(
        "CADENZA_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"), default=None,
        help="PostgreSQL server URL (a dedicated database is created on it and dropped after)")
    args = parser.parse_args()
    is_postgres = args.postgres is not None

    scratch = tempfile.TemporaryDirectory(prefix="cadenza-bench-")
    name = f"cadenza_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(args.postgres), isolation_level="AUTOCOMMIT") if is_postgres else None
    if admin is not None:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = normalise_url(args.postgres).rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{scratch.name}/bench.db"
    try:
        upgrade(url)
        workspace_id, secret = prepare(url)
        print(f"{'PostgreSQL' if is_postgres else 'SQLite'}: loading {args.rows:,} contacts …", flush=True)
        load_seconds = Loader(url).load(workspace_id, args.rows)
        print(f"  loaded, indexed and analysed in {load_seconds:.0f} s ({args.rows / load_seconds:,.0f} contacts/s)")
        results = asyncio.run(measure(url, workspace_id, secret, args.rows, args.requests, is_postgres))
    finally:
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        scratch.cleanup()

    print(f"\nGET /api/v1/contacts over {args.rows:,} contacts, {args.requests} requests per filter "
          f"({'PostgreSQL' if is_postgres else 'SQLite'}); times in ms")
    print(f"{'filter':28} {'rows':>5} {'API p50':>8} {'API p95':>8} {'SQL p50':>8} {'SQL p95':>8} {'p95 ratio':>9}")
    for name_, api50, api95, sql50, sql95, found in results:
        print(f"{name_:28} {found:5d} {api50:8.1f} {api95:8.1f} {sql50:8.2f} {sql95:8.2f} {api95 / sql95:8.1f}x")
    worst = max(r[2] for r in results)
    print(f"worst API p95: {worst:.1f} ms (target < 50 ms: {'met' if worst < 50 else 'NOT met'})")
    baselines = _baselines()
    if baselines is not None:
        figure = baselines.postgres_copy() if is_postgres else baselines.sqlite_insert()
        if figure:
            print(f"baseline {'postgres_copy' if is_postgres else 'sqlite_insert'}: {figure:,.0f} rows/s "
                  f"(bare {'COPY' if is_postgres else 'executemany'} of a 5-column table, same run)")


if __name__ == "__main__":
    main()
