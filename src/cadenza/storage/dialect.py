"""SQL that differs by dialect lives here, so the domains stay dialect-free."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(session: Session, table: Table | type[Any], index_elements: list[str]) -> Any:
    """An INSERT … ON CONFLICT (index_elements) DO NOTHING for the session's dialect, into a Table or a
    mapped class."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)


def insert_ignoring_any_conflict(session: Session, table: Table) -> Any:
    """An INSERT … ON CONFLICT DO NOTHING, whichever unique constraint a row would break."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing()


def upsert(session: Session, table: Table, index_elements: list[str], update_columns: list[str]) -> Any:
    """An INSERT … ON CONFLICT (index_elements) DO UPDATE SET the given columns from the new row."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=index_elements, set_={c: statement.excluded[c] for c in update_columns}
    )


def json_text(column: Any, key: str, session: Session) -> Any:
    """The text value of a top-level JSON key, for filters over custom fields."""
    if session.get_bind().dialect.name == "postgresql":
        return column.op("->>")(key)
    from sqlalchemy import func

    return func.json_extract(column, f'$."{key}"')


_PREFIX_END = "\U0010ffff"


def search_lower(value: str, session: Session) -> str:
    """Lower-cases a search prefix as the database's lower() does (SQLite's lower() is ASCII-only)."""
    if session.get_bind().dialect.name == "postgresql":
        return value.lower()
    return value.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def starts_with(expression: Any, prefix: str, session: Session) -> Any:
    """`expression` begins with `prefix`, in a form an index on `expression` serves.

    PostgreSQL: LIKE 'prefix%' (served by a `text_pattern_ops` index whatever the collation);
    SQLite: the range [prefix, prefix + U+10FFFF), served by an ordinary (BINARY) index.
    """
    if session.get_bind().dialect.name == "postgresql":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return expression.like(escaped + "%", escape="\\")
    from sqlalchemy import and_

    return and_(expression >= prefix, expression < prefix + _PREFIX_END)


def json_contains(column: Any, key: str, value: Any, session: Session, *, in_list: bool = False) -> Any:
    """The JSON object in `column` has `key` equal to `value` (with `in_list`: a list under `key` holds it).

    PostgreSQL: `column @> '{"key": value}'` (or `{"key": [value]}`), which a GIN index would serve;
    SQLite: json_extract equality, or json_each over the list.
    """
    from sqlalchemy import bindparam, func, select

    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return column.op("@>")(bindparam(None, {key: [value] if in_list else value}, type_=JSONB))
    path = f'$."{key}"'
    scalar = int(value) if isinstance(value, bool) else value
    if not in_list:
        return func.json_extract(column, path) == scalar
    items = func.json_each(column, path).table_valued("value")
    return select(1).select_from(items).where(items.c.value == scalar).exists()


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` fresh primary keys for rows the caller will insert with explicit ids (bulk inserts without
    RETURNING). PostgreSQL: values from the id column's sequence. SQLite: the ids after the largest one; safe
    because every writing transaction there begins IMMEDIATE, holding the write lock until it commits."""
    if count <= 0:
        return []
    from sqlalchemy import func, select, text

    if session.get_bind().dialect.name == "postgresql":
        # One row (an array), not `count` rows to fetch; the sequence is looked up once (a sub-select), not per
        # id: 5,000 ids took 38 ms with pg_get_serial_sequence per value, 8 ms so.
        ids = session.scalar(
            text("SELECT array_agg(nextval((SELECT pg_get_serial_sequence(:table, 'id'))::regclass)) "
                 "FROM generate_series(1, :count)"),
            {"table": table.name, "count": count})
        return sorted(ids)
    start = int(session.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(start, start + count))




def newest_first(session: Session, query: Any, *, order_key: Any, order_index: str, table: Any, top: int | None,
                 limit: int, window: int, filtered_by_index: bool) -> list[Any]:
    """Up to `limit` rows of `query` by `order_key` descending, planned well on SQLite too.

    SQLite keeps no per-value statistics for ranges (common builds lack STAT4), so for a filter an index
    serves (a prefix search, a date range) it guesses: with a bound LIMIT it walks the ordered index and
    filters, which reads the whole table when matches are rare or old; with a literal one it gathers every
    match and sorts, which is slow when they are many. So, on SQLite, first walk only the newest `window`
    keys below `top` (bounded work): a full page there is the answer. Otherwise order by `order_key + 0`,
    which leaves SQLite the filters' own indexes and a sort of the (then few) matches.
    PostgreSQL plans this from its statistics: it runs the plain query.
    """
    connection = session.connection()  # Core rows: no ORM layer on a hot path
    plain = query.order_by(order_key.desc()).limit(limit)
    if session.get_bind().dialect.name != "sqlite" or not filtered_by_index or top is None:
        return list(connection.execute(plain).all())
    walk = (query.with_hint(table, f"INDEXED BY {order_index}", "sqlite").where(order_key > top - window)
            .order_by(order_key.desc()).limit(limit))
    rows = list(connection.execute(walk).all())
    if len(rows) == limit:
        return rows
    return list(connection.execute(query.order_by((order_key + 0).desc()).limit(limit)).all())
