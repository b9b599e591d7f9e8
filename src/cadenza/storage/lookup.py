"""One row by a unique column, read through the driver's cursor: the cheapest read there is on a hot path.

SQLAlchemy's statement and result machinery costs more than a single-row indexed read itself: measured with
bench/api_key_auth.py inside an open transaction, ~10 µs of CPU through the driver cursor against ~90 µs for
the same Core `select` on SQLite. Values come back as the driver gives them, without type processing (a
datetime column is text on SQLite): read ids, plain text, and whether a value is NULL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.orm import Session

_SQL: dict[tuple[str, str, tuple[str, ...], str], str] = {}


def fetch_row(on: Session | Connection, table: Table, columns: tuple[str, ...], where: str,
              value: Any) -> tuple[Any, ...] | None:
    """`SELECT columns FROM table WHERE where = value` on a connection or a session's (inside its
    transaction): the first row as a tuple, or None."""
    connection = on.connection() if isinstance(on, Session) else on
    dialect = connection.dialect
    key = (dialect.name, table.name, columns, where)
    sql = _SQL.get(key)
    if sql is None:
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(table.c[name].name) for name in columns)  # KeyError for an unknown column
        marker = "%s" if dialect.name == "postgresql" else "?"
        sql = _SQL.setdefault(key, f"SELECT {names} FROM {quote(table.name)} WHERE {quote(table.c[where].name)} "
                                   f"= {marker}")
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, (value,))
        row = cursor.fetchone()
    finally:
        cursor.close()
    return tuple(row) if row is not None else None
