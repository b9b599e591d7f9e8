"""The event store's part in a contact merge and deletion: the merged contact's events follow it, and the
merge shows on the survivor's timeline; a deleted contact's events stay, unlinked. Injected into the contacts
domain at bootstrap (`contacts.merge.MergeTimeline`, `contacts.service.ContactEvents`), which sits below
events and cannot reach this table itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from cadenza.events.models import Event


class EventTimeline:
    def move_events(self, session: Session, workspace_id: int, from_contact_id: int, to_contact_id: int) -> int:
        result = session.execute(
            update(Event).where(Event.workspace_id == workspace_id, Event.contact_id == from_contact_id)
            .values(contact_id=to_contact_id).execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def unlink_events(self, session: Session, workspace_id: int, contact_id: int) -> None:
        """A deleted contact's events stay, without their contact (events have no foreign key to do it)."""
        session.execute(
            update(Event).where(Event.workspace_id == workspace_id, Event.contact_id == contact_id)
            .values(contact_id=None).execution_options(synchronize_session=False)
        )

    def append_internal(self, session: Session, workspace_id: int, contact_id: int, *, name: str,
                        message_id: str, user_id: str | None, properties: dict[str, Any],
                        at: dt.datetime) -> None:
        session.execute(insert(Event).values(
            workspace_id=workspace_id, contact_id=contact_id, message_id=message_id, type="internal", name=name,
            user_id=user_id, occurred_at=at, received_at=at, properties=properties, context={}, integrations={},
            source="internal",
        ))
