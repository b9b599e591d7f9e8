"""Ingest's lookups are index searches on SQLite, whose planner has no statistics to go on.

Each statement ingest runs against a growing table is recorded and explained; none may scan a table or
pick the wrong index (a stitch that walks every anonymous event would cost milliseconds per request).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from cadenza.auth import Principal
from cadenza.bootstrap import Container
from tests.events.factories import identify, ingest, message, page, track


@pytest.fixture
def plans(container: Container) -> Iterator[dict[str, str]]:
    if container.db.is_postgres:
        pytest.skip("PostgreSQL plans from statistics; this guards SQLite's rule-based planner")
    found: dict[str, str] = {}

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.startswith(("SELECT", "UPDATE", "WITH")):
            first = parameters[0] if executemany else parameters
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, first).fetchall()
            found[statement] = " | ".join(row[3] for row in rows)

    event.listen(container.db.engine, "before_cursor_execute", explain)
    yield found
    event.remove(container.db.engine, "before_cursor_execute", explain)


def _plan(plans: dict[str, str], start: str, contains: str) -> str:
    matching = [plan for statement, plan in plans.items() if statement.startswith(start) and contains in statement]
    assert matching, f"no statement starting {start!r} mentioning {contains!r} ran"
    return matching[0]


def test_ingest_lookups_search_indexes(container: Container, plans: dict[str, str]) -> None:
    owner = container.access.create_workspace("Acme", "owner@acme.example", "correct horse battery", "Owner")
    principal = Principal.system(owner.workspace_id)
    ingest(container, principal, page(anonymousId="a1", name="Home"), message("group", userId="u0", groupId="g"))
    plans.clear()

    ingest(container, principal, identify(userId="u1", anonymousId="a1", traits={"email": "ada@example.com"}),
           track(userId="u0"), message("group", userId="u1", groupId="g", traits={"name": "G"}))

    assert all("SCAN events" not in plan and "SCAN contacts" not in plan and "SCAN contact_identities" not in plan
               for plan in plans.values()), plans
    assert "ix_events_anonymous_id_workspace_id_unlinked" in _plan(plans, "SELECT events.anonymous_id", "")
    assert "ix_events_anonymous_id_workspace_id_unlinked" in _plan(plans, "UPDATE events", "")
    assert "(workspace_id=? AND message_id=?)" in _plan(plans, "SELECT events.message_id", "")
    assert "(workspace_id=? AND kind=? AND value=?)" in _plan(plans, "SELECT contact_identities", "")
    contacts = _plan(plans, "SELECT contacts.id", "contacts.email IN")
    assert "uq_contacts_workspace_id_external_id" in contacts and "uq_contacts_workspace_id_email" in contacts
