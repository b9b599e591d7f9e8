"""The transactional outbox: facts written with the change, relayed to subscribers after commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from cadenza.storage.database import Database
from cadenza.storage.models import OutboxMessage

CONTACT_CHANGED = "contact.changed"


def publish(session: Session, topic: str, payload: dict[str, Any], *, now: dt.datetime,
            workspace_id: int | None = None) -> None:
    """Adds a fact to the open unit of work."""
    session.add(OutboxMessage(workspace_id=workspace_id, topic=topic, payload=payload, created_at=now))


def publish_many(session: Session, rows: list[dict[str, Any]], *, now: dt.datetime) -> None:
    """Adds many facts in one statement: rows of {workspace_id, topic, payload}."""
    if rows:
        session.execute(insert(OutboxMessage), [{**row, "created_at": now} for row in rows])


def contact_changed(workspace_id: int, contact_id: int, *, fields: list[str] | None = None,
                    events: list[str] | None = None, reason: str = "") -> dict[str, Any]:
    """The 'contact changed' fact later capabilities (segments, scoring) subscribe to."""
    return {
        "workspace_id": workspace_id,
        "topic": CONTACT_CHANGED,
        "payload": {
            "contact_id": contact_id, "fields": sorted(set(fields or [])), "events": sorted(set(events or [])),
            "reason": reason,
        },
    }


class OutboxRelay:
    """Moves unpublished facts, in id order, to the job queue (inside the same transaction that marks
    them published, so each is handed on exactly once) and returns them for in-process delivery."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def relay(
        self,
        now: dt.datetime,
        on_message: Callable[[Session, str, int | None, dict[str, Any]], None] | None = None,
        limit: int = 500,
    ) -> list[tuple[str, int | None, dict[str, Any]]]:
        with self.db.transaction() as session:
            query = (select(OutboxMessage).where(OutboxMessage.published_at.is_(None))
                     .order_by(OutboxMessage.id).limit(limit))
            if self.db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            messages = [(m.id, m.topic, m.workspace_id, dict(m.payload or {}))
                        for m in session.scalars(query)]
            for _id, topic, workspace_id, payload in messages:
                if on_message is not None:
                    on_message(session, topic, workspace_id, payload)
            if messages:
                session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([m[0] for m in messages]))
                                .values(published_at=now))
            return [(topic, workspace_id, payload) for _id, topic, workspace_id, payload in messages]
