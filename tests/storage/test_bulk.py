"""The bulk insert: every row in, whatever the count; datetimes stored exactly as SQLAlchemy would store them;
reserved ids; rows prepared in the driver's form store what processed rows store."""

from __future__ import annotations

import datetime as dt
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Table, select, text
from sqlalchemy.dialects import postgresql, sqlite

from cadenza.bootstrap import Container
from cadenza.contacts.models import Company
from cadenza.storage import JSONText
from cadenza.storage.base import UTCDateTime
from cadenza.storage.bulk import (
    _datetime_processor,
    build_stage,
    clear_stage,
    driver_value,
    insert_rows,
    load_stage,
    read_stage,
)
from cadenza.storage.dialect import reserve_ids
from cadenza.storage.models import OutboxMessage
from tests.conftest import Actors

_OUTBOX = cast(Table, OutboxMessage.__table__)
_COMPANIES = cast(Table, Company.__table__)
_COMPANY_COLUMNS = ("id", "workspace_id", "name", "attributes", "created_at", "updated_at")


@pytest.mark.parametrize("count", [1, 3, 63, 64, 65, 100, 129, 300], ids=lambda n: f"{n}-rows")
def test_every_row_goes_in_once_in_order(container: Container, actors: Actors, count: int) -> None:
    now = dt.datetime(2026, 3, 1, 9, 30, 15, 250_000, tzinfo=dt.UTC)
    rows = [(actors.alice.workspace_id, "thing.happened", {"n": n}, now + dt.timedelta(seconds=n))
            for n in range(count)]

    with container.db.transaction() as session:
        written = insert_rows(session, _OUTBOX, ("workspace_id", "topic", "payload", "created_at"), rows)

    with container.db.read() as session:
        stored = session.execute(select(OutboxMessage.payload, OutboxMessage.created_at)
                                 .order_by(OutboxMessage.id)).all()
    assert written == count
    assert [(payload["n"], created_at) for payload, created_at in stored] == [
        (n, now + dt.timedelta(seconds=n)) for n in range(count)]


_ZONES = st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)),
                          dt.timezone(dt.timedelta(hours=-8))])


@given(st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=_ZONES))
def test_datetimes_are_bound_as_sqlalchemy_binds_them(value: dt.datetime) -> None:
    for dialect in (sqlite.dialect(), postgresql.psycopg.dialect()):  # type: ignore[attr-defined]
        column = UTCDateTime()
        general = column.impl.dialect_impl(dialect).bind_processor(dialect)
        expected = column.process_bind_param(value, dialect)
        if general is not None:
            expected = general(expected)

        assert _datetime_processor(dialect.name)(value) == expected


def test_reserved_ids_are_fresh_ascending_and_never_handed_out_twice(container: Container, actors: Actors) -> None:
    with container.db.transaction() as session:
        first = reserve_ids(session, _COMPANIES, 5)
        now = container.clock.now()
        insert_rows(session, _COMPANIES, _COMPANY_COLUMNS,
                    [(i, actors.alice.workspace_id, f"c{i}", {}, now, now) for i in first])
    with container.db.transaction() as session:
        second = reserve_ids(session, _COMPANIES, 3)

    assert first == sorted(first) and len(set(first)) == 5
    assert second == sorted(second) and len(set(second)) == 3 and min(second) > max(first)


def test_prepared_rows_store_what_processed_rows_store(container: Container, actors: Actors) -> None:
    ws, now = actors.alice.workspace_id, dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)
    with container.db.transaction() as session:
        a, b = reserve_ids(session, _COMPANIES, 2)
        insert_rows(session, _COMPANIES, _COMPANY_COLUMNS, [(a, ws, "processed", {"tier": 1, "tags": ["x"]}, now, now)])
        stamp = driver_value(session, _COMPANIES, "created_at", now)
        insert_rows(session, _COMPANIES, _COMPANY_COLUMNS,
                    [(b, ws, "prepared", JSONText('{"tier":1,"tags":["x"]}'), stamp, stamp)], prepared=True)
    with container.db.read() as session:
        rows = session.execute(select(Company.name, Company.attributes, Company.created_at, Company.updated_at)
                               .where(Company.id.in_([a, b])).order_by(Company.id)).all()

    assert [tuple(row) for row in rows] == [("processed", {"tier": 1, "tags": ["x"]}, now, now),
                                            ("prepared", {"tier": 1, "tags": ["x"]}, now, now)]


def test_json_already_written_out_is_stored_as_the_json_it_is(container: Container, actors: Actors) -> None:
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    sent = JSONText('{"big": 123456789012345678901234567890, "name": "Zoë", "nested": {"a": [1, 2.5, null]}}')

    with container.db.transaction() as session:
        insert_rows(session, _OUTBOX, ("workspace_id", "topic", "payload", "created_at"),
                    [(actors.alice.workspace_id, "thing.happened", sent, now),
                     (actors.alice.workspace_id, "thing.happened", {"plain": True}, now)])

    with container.db.read() as session:
        stored = session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id)).all()
    assert stored == [{"big": 123456789012345678901234567890, "name": "Zoë", "nested": {"a": [1, 2.5, None]}},
                      {"plain": True}]


def test_a_stage_loaded_again_in_a_connection_reads_only_its_own_rows(container: Container) -> None:
    """Each chunk's stage replaces the one before on the same connection, larger or smaller, within transactions;
    its rows are read back exactly (SQLite served stale pages only of a stage that had been written to)."""
    if container.db.is_postgres:
        pytest.skip("staged rows are SQLite's path")
    sizes = [3_000, 5_000, 200, 5_000, 4_999, 1]
    for round_, size in enumerate(sizes):
        stage = build_stage({"staged": (("label",), [(seq, f"{round_}-{seq}" * (1 + seq % 5)) for seq in range(size)])})
        with container.db.transaction() as session:
            load_stage(session, stage)
            rows = session.execute(text("SELECT seq, label FROM stage.staged ORDER BY seq")).all()
            clear_stage(session)
        assert [tuple(r) for r in rows] == [(seq, f"{round_}-{seq}" * (1 + seq % 5)) for seq in range(size)]
        assert read_stage(stage, "SELECT count(*) FROM staged") == [(size,)]


def test_every_table_of_a_stage_reads_right_whatever_the_size_of_the_tables_before_it(container: Container) -> None:
    """The same statement, cached by the driver, reads the second table of stages whose first table differs in
    size (a root page that moved with it was read wrong: "database disk image is malformed")."""
    if container.db.is_postgres:
        pytest.skip("staged rows are SQLite's path")
    for round_, size in enumerate([10, 4_000, 3, 9_000, 50]):
        stage = build_stage({"first": (("label",), [(seq, f"{round_}-{seq}" * 4) for seq in range(size)]),
                             "second": (("label",), [(seq, f"second {round_}-{seq}") for seq in range(size % 7 + 1)])})
        with container.db.transaction() as session:
            load_stage(session, stage)
            rows = session.execute(text("SELECT s.seq, s.label FROM stage.second AS s ORDER BY s.seq")).all()
            clear_stage(session)
        assert [tuple(r) for r in rows] == [(seq, f"second {round_}-{seq}") for seq in range(size % 7 + 1)]
