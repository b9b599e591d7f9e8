"""Plain factory functions for contacts tests: each makes one thing through its service and returns it."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import func, select

from cadenza.auth import Principal
from cadenza.auth.models import AuditEntry
from cadenza.bootstrap import Container
from cadenza.contacts.models import Company, Contact, ContactTag, CustomField
from cadenza.contacts.schemas import CompanyCreate, CompanyOut, ContactCreate, ContactOut, FieldCreate, FieldOut
from cadenza.storage.models import OutboxMessage
from cadenza.storage.outbox import CONTACT_CHANGED

_numbers = itertools.count(1)


def make_contact(container: Container, principal: Principal, **overrides: Any) -> ContactOut:
    """A contact with a unique email unless one is given."""
    values: dict[str, Any] = {"email": f"person{next(_numbers)}@example.com"}
    values.update(overrides)
    return container.contacts.create_contact(principal, ContactCreate(**values))


def make_company(container: Container, principal: Principal, **overrides: Any) -> CompanyOut:
    values: dict[str, Any] = {"name": f"Company {next(_numbers)}"}
    values.update(overrides)
    return container.companies.create_company(principal, CompanyCreate(**values))


def make_field(container: Container, principal: Principal, key: str, type: str = "text", **overrides: Any) -> FieldOut:
    values: dict[str, Any] = {"key": key, "label": key.replace("_", " ").title(), "type": type}
    values.update(overrides)
    return container.fields.create_field(principal, FieldCreate(**values))


def audit_entries(container: Container, action: str | None = None) -> list[AuditEntry]:
    with container.db.read() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        entries = list(session.scalars(query))
        session.expunge_all()  # keep them readable after the read unit rolls back
        return entries


def contact_facts(container: Container) -> list[tuple[int | None, dict[str, Any]]]:
    """(workspace_id, payload) of every 'contact changed' outbox fact, oldest first."""
    with container.db.read() as session:
        rows = session.execute(select(OutboxMessage.workspace_id, OutboxMessage.payload)
                                .where(OutboxMessage.topic == CONTACT_CHANGED).order_by(OutboxMessage.id))
        return [(workspace_id, dict(payload)) for workspace_id, payload in rows]


def counts(container: Container) -> dict[str, int]:
    """How many contacts, tags, companies, fields, audit entries and facts exist: to prove nothing was written."""
    with container.db.read() as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in (("contacts", Contact), ("tags", ContactTag), ("companies", Company),
                                ("fields", CustomField), ("audit", AuditEntry), ("outbox", OutboxMessage))
        }
