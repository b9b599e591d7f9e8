"""Reading the event store: a contact's timeline, and the workspace's events by time range.

Both are newest first with a keyset cursor on (occurred_at, id), served by the indexes
(workspace_id, contact_id, name, occurred_at) and (workspace_id, occurred_at): no page costs more
than the rows it shows, however far back it goes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from cadenza.auth import Permission, Principal
from cadenza.contacts import contact_in_workspace
from cadenza.core.clock import Clock, as_utc
from cadenza.core.errors import PermissionDenied, ValidationFailed
from cadenza.core.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from cadenza.events.errors import ContactNotInWorkspace
from cadenza.events.models import Event
from cadenza.events.schemas import EventOut
from cadenza.storage import Database

_COLUMNS = (Event.id, Event.type, Event.name, Event.message_id, Event.contact_id, Event.user_id, Event.anonymous_id,
            Event.group_id, Event.previous_id, Event.category, Event.occurred_at, Event.received_at, Event.sent_at,
            Event.properties, Event.context, Event.integrations, Event.source)


class EventQueries:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def timeline(self, principal: Principal, contact_id: int, *, limit: int | None = None, cursor: str | None = None,
                 name: str | None = None, since: dt.datetime | None = None,
                 until: dt.datetime | None = None) -> Page[EventOut]:
        """A contact's events, newest first. NotFound when the contact is not in the principal's workspace."""
        _require_read(principal)
        limit = clamp_limit(limit)
        with self.db.read() as session:
            if not contact_in_workspace(session, principal.workspace_id, contact_id):
                raise ContactNotInWorkspace(f"No contact {contact_id} in this workspace.")
            query = select(*_COLUMNS).where(Event.workspace_id == principal.workspace_id,
                                            Event.contact_id == contact_id)
            return _page(session, query, limit=limit, cursor=cursor, name=name, since=since, until=until)

    def list_events(self, principal: Principal, *, limit: int | None = None, cursor: str | None = None,
                    name: str | None = None, type: str | None = None, since: dt.datetime | None = None,
                    until: dt.datetime | None = None) -> Page[EventOut]:
        """The workspace's events in a time range (`since` inclusive, `until` exclusive), newest first."""
        _require_read(principal)
        limit = clamp_limit(limit)
        query = select(*_COLUMNS).where(Event.workspace_id == principal.workspace_id)
        if type:
            query = query.where(Event.type == type)
        with self.db.read() as session:
            return _page(session, query, limit=limit, cursor=cursor, name=name, since=since, until=until)


def _require_read(principal: Principal) -> None:
    if not principal.can(Permission.READ):
        raise PermissionDenied(f"This needs the {Permission.READ} permission.")


def _page(session: Session, query: Select[Any], *, limit: int, cursor: str | None, name: str | None,
          since: dt.datetime | None, until: dt.datetime | None) -> Page[EventOut]:
    if name is not None:
        query = query.where(Event.name == name)
    if since is not None:
        query = query.where(Event.occurred_at >= as_utc(since))
    if until is not None:
        query = query.where(Event.occurred_at < as_utc(until))
    if cursor:
        occurred_at, last_id = _position(cursor)
        query = query.where(or_(Event.occurred_at < occurred_at,
                                and_(Event.occurred_at == occurred_at, Event.id < last_id)))
    rows = session.execute(query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit + 1)).all()
    items = [EventOut.model_validate(row._mapping) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor([last.occurred_at.isoformat(), last.id])
    return Page(items, next_cursor)


def _position(cursor: str) -> tuple[dt.datetime, int]:
    values = decode_cursor(cursor)
    try:
        occurred_at, last_id = values
        if not isinstance(occurred_at, str) or not isinstance(last_id, int) or isinstance(last_id, bool):
            raise ValueError
        return as_utc(dt.datetime.fromisoformat(occurred_at)), last_id
    except ValueError:
        raise ValidationFailed("The cursor is not one this server issued.", errors=[{"field": "cursor"}]) from None
