"""Ingest's lookups are index searches on SQLite, whose planner has no statistics to go on.

Each statement ingest runs against a growing table is recorded and explained (the `plans` fixture); none
may scan a table or pick the wrong index (a stitch that walks every anonymous event would cost milliseconds
per request).
"""

from __future__ import annotations

from cadenza.auth import Principal
from cadenza.bootstrap import Container
from tests.conftest import query_plan
from tests.events.factories import identify, ingest, message, page, track


def test_ingest_lookups_search_indexes(container: Container, plans: dict[str, str]) -> None:
    owner = container.access.create_workspace("Acme", "owner@acme.example", "correct horse battery", "Owner")
    principal = Principal.system(owner.workspace_id)
    ingest(container, principal, page(anonymousId="a1", name="Home"), message("group", userId="u0", groupId="g"))
    plans.clear()

    ingest(container, principal, identify(userId="u1", anonymousId="a1", traits={"email": "ada@example.com"}),
           track(userId="u0"), message("group", userId="u1", groupId="g", traits={"name": "G"}))

    assert all("SCAN events" not in plan and "SCAN contacts" not in plan and "SCAN contact_identities" not in plan
               for plan in plans.values()), plans
    assert "ix_events_anonymous_id_workspace_id_unlinked" in query_plan(plans, "SELECT events.anonymous_id", "")
    assert "ix_events_anonymous_id_workspace_id_unlinked" in query_plan(plans, "UPDATE events", "")
    assert "(workspace_id=? AND message_id=?)" in query_plan(plans, "SELECT events.message_id", "")
    assert "(workspace_id=? AND kind=? AND value=?)" in query_plan(plans, "SELECT contact_identities", "")
    contacts = query_plan(plans, "SELECT contacts.id", "contacts.email IN")
    assert "uq_contacts_workspace_id_external_id" in contacts and "uq_contacts_workspace_id_email" in contacts
