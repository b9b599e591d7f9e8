"""House rules, each checked on one good and one bad example, then on the whole package."""

from __future__ import annotations

from tests.architecture.house_rules import commits, prints, violations, wall_clock_reads

# ---- business time comes from the injected clock --------------------------------------------


def test_the_clock_rule_accepts_the_clock_monotonic_timers_and_an_explained_wall_clock_read() -> None:
    good = (
        "import time\n"
        "def expires(clock):\n"
        "    started = time.monotonic()\n"
        "    took = time.perf_counter() - started\n"
        "    cutoff = time.time() - 3600  # wall-clock: compared with file modification times\n"
        "    return clock.now(), took, cutoff\n"
    )
    assert wall_clock_reads(good) == []


def test_the_clock_rule_catches_every_wall_clock_read() -> None:
    bad = (
        "import datetime as dt, time\n"
        "from datetime import date, datetime\n"
        "a = datetime.now()\n"
        "b = dt.datetime.now(dt.UTC)\n"
        "c = datetime.utcnow()\n"
        "d = date.today()\n"
        "e = time.time()\n"
    )
    assert wall_clock_reads(bad) == [(3, "datetime.now()"), (4, "dt.datetime.now()"), (5, "datetime.utcnow()"),
                                     (6, "date.today()"), (7, "time.time()")]


def test_only_core_clock_reads_the_wall_clock() -> None:
    assert violations(wall_clock_reads, allowed=lambda path: path == "core/clock.py") == []


# ---- only the unit of work commits ------------------------------------------------------------


def test_the_commit_rule_accepts_a_unit_of_work() -> None:
    good = (
        "def rename(db, contact_id, name):\n"
        "    with db.transaction() as session:\n"
        "        session.get(Contact, contact_id).name = name\n"
    )
    assert commits(good) == []


def test_the_commit_rule_catches_a_commit() -> None:
    bad = (
        "def rename(session, contact, name):\n"
        "    contact.name = name\n"
        "    session.commit()\n"
    )
    assert commits(bad) == [(3, "session.commit()")]


def test_nothing_outside_storage_commits() -> None:
    assert violations(commits, allowed=lambda path: path.startswith("storage/")) == []


# ---- the application logs; only the CLI prints -------------------------------------------------


def test_the_print_rule_accepts_logging() -> None:
    good = (
        "import logging\n"
        "log = logging.getLogger(__name__)\n"
        "def run(job):\n"
        "    log.info('job %s done', job.id)\n"
    )
    assert prints(good) == []


def test_the_print_rule_catches_a_print() -> None:
    bad = (
        "def run(job):\n"
        "    print('done', job.id)\n"
    )
    assert prints(bad) == [(2, "print()")]


def test_only_the_cli_prints() -> None:
    assert violations(prints, allowed=lambda path: path.startswith("cli/")) == []
