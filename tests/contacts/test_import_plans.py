"""An import's lookups are index searches on SQLite, however many contacts the workspace has.

A chunk of more than a hundred rows binds its emails as one JSON parameter (`storage.bulk.among`); an ORDER BY
on such a lookup once made SQLite walk the workspace's contacts in id order instead (2x the import's CPU).
"""

from __future__ import annotations

import io

from cadenza.bootstrap import Container
from tests.conftest import Actors, query_plan

ROWS = 150  # past storage.bulk's plain-IN limit (100): the lists go as JSON, as in a real chunk


def test_import_lookups_search_indexes(container: Container, actors: Actors, plans: dict[str, str]) -> None:
    alice = actors.alice.principal
    lines = ["Email,External ID,Company,Tags", *(f"p{i}@example.com,ext-{i},Company {i % 7},vip;new"
                                                for i in range(ROWS))]
    csv = ("\n".join(lines) + "\n").encode()
    container.imports.chunk_size = ROWS
    for _run in range(2):  # the second matches every row to a contact the first created
        started = container.imports.create_import(alice, "c.csv", io.BytesIO(csv), run_in_background=False)
        assert container.imports.run_import(started.id).status == "done"

    assert all("SCAN contacts" not in plan and "SCAN contact_tags" not in plan and "SCAN companies" not in plan
               for plan in plans.values()), plans
    assert "uq_contacts_workspace_id_email" in query_plan(plans, "SELECT contacts.id", "contacts.email IN")
    assert "uq_contacts_workspace_id_external_id" in query_plan(plans, "SELECT contacts.id", "contacts.external_id IN")
    assert "ix_companies_workspace_id_name" in query_plan(plans, "SELECT companies.name", "")
