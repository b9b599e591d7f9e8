"""SQL that differs by dialect lives here, so the domains stay dialect-free."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(session: Session, table: Table, index_elements: list[str]) -> Any:
    """An INSERT … ON CONFLICT (index_elements) DO NOTHING for the session's dialect."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)


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
