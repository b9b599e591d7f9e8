"""Segment messages for tests, and small readers of what ingest stored."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.contacts.models import Company, Contact, ContactIdentity, DuplicateCandidate
from cadenza.events.models import Event
from cadenza.events.service import IngestResult
from cadenza.storage.models import OutboxMessage

_ids = itertools.count(1)


def message(type: str, **fields: Any) -> dict[str, Any]:
    """A Segment message with a fresh messageId (pass messageId=None to leave it out)."""
    body: dict[str, Any] = {"type": type, "messageId": f"m-{next(_ids)}"}
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def track(event: str = "Signed Up", **fields: Any) -> dict[str, Any]:
    return message("track", event=event, **fields)


def identify(**fields: Any) -> dict[str, Any]:
    return message("identify", **fields)


def page(**fields: Any) -> dict[str, Any]:
    return message("page", **fields)


def ingest(container: Container, principal: Principal, *messages: dict[str, Any], **options: Any) -> IngestResult:
    return container.ingest.ingest(principal, list(messages), **options)


def events(container: Container, workspace_id: int) -> list[Event]:
    with container.db.read() as session:
        return list(session.scalars(select(Event).where(Event.workspace_id == workspace_id).order_by(Event.id)))


def contacts(container: Container, workspace_id: int) -> list[Contact]:
    with container.db.read() as session:
        return list(session.scalars(select(Contact).where(Contact.workspace_id == workspace_id).order_by(Contact.id)))


def contact_by_user(container: Container, workspace_id: int, user_id: str) -> Contact:
    with container.db.read() as session:
        return session.scalars(select(Contact).where(Contact.workspace_id == workspace_id,
                                                     Contact.external_id == user_id)).one()


def identities(container: Container, workspace_id: int) -> set[tuple[str, str, int]]:
    with container.db.read() as session:
        rows = session.execute(select(ContactIdentity.kind, ContactIdentity.value, ContactIdentity.contact_id)
                               .where(ContactIdentity.workspace_id == workspace_id))
        return {(kind, value, contact_id) for kind, value, contact_id in rows}


def candidates(container: Container, workspace_id: int) -> list[tuple[int, int, str]]:
    with container.db.read() as session:
        rows = session.execute(select(DuplicateCandidate.contact_id, DuplicateCandidate.other_contact_id,
                                      DuplicateCandidate.reason)
                               .where(DuplicateCandidate.workspace_id == workspace_id)
                               .order_by(DuplicateCandidate.id))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def companies(container: Container, workspace_id: int) -> list[Company]:
    with container.db.read() as session:
        return list(session.scalars(select(Company).where(Company.workspace_id == workspace_id).order_by(Company.id)))


def facts(container: Container, workspace_id: int) -> list[dict[str, Any]]:
    """The 'contact changed' facts ingest wrote, oldest first."""
    with container.db.read() as session:
        return [dict(payload) for payload in session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.workspace_id == workspace_id,
                                                OutboxMessage.topic == "contact.changed")
            .order_by(OutboxMessage.id)) if payload.get("reason") == "ingest"]
