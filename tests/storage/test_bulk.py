"""The bulk insert: every row in, whatever the count; datetimes stored exactly as SQLAlchemy would store them."""

from __future__ import annotations

import datetime as dt
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite

from cadenza.bootstrap import Container
from cadenza.storage.base import UTCDateTime
from cadenza.storage.bulk import _datetime_processor, insert_rows
from cadenza.storage.models import OutboxMessage
from tests.conftest import Actors

_OUTBOX = cast(Table, OutboxMessage.__table__)


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
