#!/usr/bin/env python3
"""CSV contact import: rows per second and peak memory for a large file, against the raw insert baseline.

    .venv/bin/python bench/import_csv.py                      # 1,000,000 rows into a fresh SQLite file
    .venv/bin/python bench/import_csv.py --postgres           # into a fresh PostgreSQL database (dropped after)
    .venv/bin/python bench/import_csv.py --rows 200000 --phone-share 1.0
    CADENZA_IMPORT_WORKERS=0 .venv/bin/python bench/import_csv.py --rows 200000   # validation in-process

The file is generated on disk as a stream (a few % of rows are bad: invalid email, phone, date or number)
and imported in-process exactly as `cadenza import contacts` does: detection, mapping, validation
(email-validator/phonenumbers), de-duplication, bulk writes, tags, companies, one outbox fact per contact.
The figure is divided by `sqlite_insert_rows_per_s` / `postgres_copy_rows_per_s` from
../shared/bench/baselines.py, measured in the same run: raw inserts of a bare table, none of our work.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from typing import TYPE_CHECKING  # noqa: E402

from common import create_postgres_database, drop_postgres_database, insert_baseline  # noqa: E402

# The application is imported where it is used, as the `cadenza` command does: the import's worker processes
# start by importing this script again (multiprocessing's spawn), and should pay for it what they pay for the
# command (tests/cli/test_startup.py).
if TYPE_CHECKING:
    from cadenza.auth import Principal
    from cadenza.bootstrap import Container
    from cadenza.contacts.models import ContactImport

FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Barbara", "Ken", "Dennis", "Frances", "Radia", "José",
         "Jürgen", "Zoë", "Søren", "Aiko", "Chen", "Olu", "Priya", "Mateo", "Ingrid"]
LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Liskov", "Thompson", "Ritchie", "Allen",
        "Perlman", "García", "Müller", "Ødegaard", "Tanaka", "Wang", "Okafor", "Patel", "Rossi", "Berg", "Nowak"]
PLANS = ["free", "pro", "team", "enterprise"]
TAGS = ["newsletter", "beta", "vip", "webinar", "trial", "partner"]
BAD = [("email", "not-an-email"), ("phone", "12"), ("signup", "31/31/2024"), ("score", "lots")]


def generate(path: Path, rows: int, bad_share: float, phone_share: float, seed: int = 7) -> tuple[int, int]:
    """Writes the CSV row by row. Returns (bytes, bad rows)."""
    rng = random.Random(seed)
    bad_rows = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Email", "First Name", "Last Name", "Phone", "Company", "Tags", "Plan", "Signup Date",
                         "Score"])
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            row = {
                "email": f"{first.lower()}.{i}@example{i % 97}.com".encode("ascii", "ignore").decode(),
                "phone": f"+44 74{i // 1_000_000:02d} {i % 1_000_000:06d}" if rng.random() < phone_share else "",
                "signup": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "score": str(i % 1000),
            }
            if rng.random() < bad_share:
                column, value = BAD[i % len(BAD)]
                row[column] = value
                bad_rows += 1
            tags = ";".join(rng.sample(TAGS, k=i % 3))
            writer.writerow([row["email"], first, last, row["phone"], f"Company {i % 5000}", tags,
                             PLANS[i % len(PLANS)], row["signup"], row["score"]])
    return path.stat().st_size, bad_rows


def rss_mb() -> float:
    try:
        import psutil
    except ImportError:
        return float("nan")
    return float(psutil.Process().memory_info().rss) / 1e6


def run(args: argparse.Namespace, scratch: Path, url: str) -> dict[str, object]:
    from cadenza.auth import Principal
    from cadenza.bootstrap import build_container
    from cadenza.config import Settings
    from cadenza.contacts.models import CustomField
    from cadenza.schema import upgrade

    csv_path = scratch / "contacts.csv"
    started = time.perf_counter()
    size, bad_rows = generate(csv_path, args.rows, args.bad_share, args.phone_share)
    generated_in = time.perf_counter() - started
    upgrade(url)
    container = build_container(Settings(database_url=url, data_dir=scratch, secret_key="bench"))
    owner = container.access.create_workspace("Bench", "bench@example.com", "bench-password-1", "Bench")
    principal = Principal.system(owner.workspace_id, "bench")
    with container.db.transaction() as session:
        now = container.clock.now()
        session.add_all([
            CustomField(workspace_id=owner.workspace_id, entity="contact", key="plan", label="Plan", type="enum",
                        options=PLANS, is_required=False, is_personal=False, created_at=now),
            CustomField(workspace_id=owner.workspace_id, entity="contact", key="signup_date", label="Signup date",
                        type="date", options=[], is_required=False, is_personal=False, created_at=now),
            CustomField(workspace_id=owner.workspace_id, entity="contact", key="score", label="Score",
                        type="number", options=[], is_required=False, is_personal=False, created_at=now),
        ])
    if args.chunk_size:
        container.imports.chunk_size = args.chunk_size
    samples: list[float] = []

    def progress(contact_import: ContactImport) -> None:
        samples.append(rss_mb())

    with csv_path.open("rb") as source:
        contact_import = container.imports.create_import(principal, "contacts.csv", source,
                                                         run_in_background=False)
    started, cpu_started = time.perf_counter(), time.process_time()
    done = container.imports.run_import(contact_import.id, progress=progress)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    exported: dict[str, object] = {}
    if args.export:
        exported = export(container, principal, scratch / "export.csv")
    container.close()
    assert done.status == "done", done.error
    assert done.rows_total == args.rows, (done.rows_total, args.rows)
    assert done.rows_failed == bad_rows, (done.rows_failed, bad_rows)
    return {
        "rows": args.rows, "bytes": size, "bad_rows": bad_rows, "phone_share": args.phone_share,
        "generate_s": round(generated_in, 1), "import_s": round(elapsed, 1),
        "rows_per_s": round(args.rows / elapsed),
        # This process's CPU time only: less sensitive to a busy machine, blind to the database server's work.
        "cpu_s": round(cpu, 1), "rows_per_cpu_s": round(args.rows / cpu),
        "created": done.rows_created, "failed": done.rows_failed,
        "rss_mb_first_chunk": round(samples[0], 1) if samples else None,
        # After each quarter of the chunks: bounded caches fill early, so a flat import levels off.
        "rss_mb_by_quarter": [round(samples[len(samples) * q // 4 - 1], 1) for q in (1, 2, 3, 4)] if samples else None,
        "rss_mb_last_chunk": round(samples[-1], 1) if samples else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **exported,
    }


def export(container: Container, principal: Principal, path: Path) -> dict[str, object]:
    """`--export`: the imported contacts written back out as CSV (`GET /api/v1/contacts/export.csv`'s work)."""
    from cadenza.contacts.schemas import ContactFilters

    rss_before = rss_mb()
    started = time.perf_counter()
    lines = 0
    with path.open("w", newline="") as out:
        for chunk in container.contacts.export_csv(principal, ContactFilters()):
            out.write(chunk)
            lines += chunk.count("\r\n")
    elapsed = time.perf_counter() - started
    return {"export_rows": lines - 1, "export_s": round(elapsed, 1), "export_rows_per_s": round((lines - 1) / elapsed),
            "rss_mb_before_export": round(rss_before, 1), "rss_mb_after_export": round(rss_mb(), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true", help="import into PostgreSQL (CADENZA_TEST_DATABASE_URL)")
    parser.add_argument("--bad-share", type=float, default=0.03, help="share of rows with one bad cell")
    parser.add_argument("--phone-share", type=float, default=0.3, help="share of rows with a phone number")
    parser.add_argument("--chunk-size", type=int, help="rows per chunk (default: the import's own)")
    parser.add_argument("--export", action="store_true", help="then export every contact as CSV, timed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    postgres_url = os.environ.get("CADENZA_TEST_DATABASE_URL")
    use_postgres = args.postgres or bool(postgres_url)
    base_url = postgres_url or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    with tempfile.TemporaryDirectory(prefix="cadenza-import-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        if use_postgres:
            url, name = create_postgres_database(base_url)
            try:
                result = run(args, scratch, url)
            finally:
                drop_postgres_database(base_url, name)
        else:
            result = run(args, scratch, f"sqlite:///{scratch}/bench.db")
    baseline_name, baseline = insert_baseline(use_postgres)
    result["database"] = "postgresql" if use_postgres else "sqlite"
    result[baseline_name] = round(baseline) if baseline else None
    result["ratio_to_baseline"] = round(float(result["rows_per_s"]) / baseline, 3) if baseline else None  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:24} {value:,}" if isinstance(value, int | float) else f"{key:24} {value}")


if __name__ == "__main__":
    main()
