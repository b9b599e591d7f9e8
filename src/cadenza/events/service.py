"""Ingesting Segment calls: validation, idempotency by messageId, identity resolution, storage.

One request is one transaction: its events, the contacts and companies they create or change, the
identities they link and one 'contact changed' outbox fact per affected contact commit together or
not at all. The hot path is SQLAlchemy Core on the session's connection: one IN query for known
messageIds, a few for identities, one bulk insert for the events (COPY on PostgreSQL, one driver
executemany on SQLite: `cadenza.storage.bulk.insert_rows`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.orm import Session

from cadenza.auth import Permission, Principal
from cadenza.config import Settings
from cadenza.contacts import ContactDraft, IdentityResolution, email_or_none
from cadenza.core.clock import Clock
from cadenza.core.errors import PermissionDenied
from cadenza.events.intake import Accepted, BatchDefaults, new_message_id, read_messages
from cadenza.events.models import Event
from cadenza.events.schemas import AliasMessage, GroupMessage, IdentifyMessage, PageMessage, ScreenMessage, TrackMessage
from cadenza.storage import Database
from cadenza.storage.bulk import insert_rows
from cadenza.storage.outbox import contact_changed, publish_many

WARNINGS_KEY = "cadenza"  # context.cadenza.warnings: trait values that could not be stored, and why


@dataclass
class IngestResult:
    stored: Counter[str] = field(default_factory=Counter)  # events stored, by type
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stored_total(self) -> int:
        return sum(self.stored.values())


class IngestService:
    def __init__(self, db: Database, clock: Clock, settings: Settings,
                 new_id: Callable[[], str] = new_message_id,
                 confirm_key: Callable[[Session, Principal], None] | None = None) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.new_id = new_id
        # Refuses an API-key principal whose key was revoked since it was identified (AccessControl.confirm_api_key),
        # in the request's own transaction: the ingest router identifies keys without a read of their own.
        self.confirm_key = confirm_key
        # SQLite has one writer: ingest threads wait for it here, before taking a pooled connection, rather
        # than each holding a connection inside SQLite's busy handler (up to its 30 s timeout) under load.
        self._write_lock = None if db.is_postgres else threading.Lock()

    def ingest(self, principal: Principal, items: list[Any], *, defaults: BatchDefaults | None = None,
               inspect_each: bool = True, source: str = "api") -> IngestResult:
        """Stores the valid messages among `items` (parsed JSON) once each; reports the others by index.

        One transaction: the request's events, contacts, identities, companies and outbox facts commit
        together or not at all."""
        if not principal.can(Permission.INGEST):
            raise PermissionDenied(f"This needs the {Permission.INGEST} permission.")
        received_at = self.clock.now()
        intake = read_messages(items, received_at=received_at, max_event_bytes=self.settings.max_event_bytes,
                               inspect_each=inspect_each, defaults=defaults, new_id=self.new_id)
        if not intake.accepted and self.confirm_key is not None:
            with self.db.read() as session:
                self.confirm_key(session, principal)
        for _attempt in range(3):
            result = IngestResult(duplicates=intake.repeated, rejected=intake.rejected)
            if not intake.accepted:
                break
            try:
                with self._writing(), self.db.transaction() as session:
                    if self.confirm_key is not None:
                        self.confirm_key(session, principal)
                    self._store(session, principal.workspace_id, intake.accepted, received_at, source, result)
                break
            except _ConcurrentDuplicate:  # another request stored some of these messageIds a moment ago
                continue
        return result

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        if self._write_lock is None:
            yield
            return
        with self._write_lock:
            yield

    def _store(self, session: Session, workspace_id: int, accepted: list[Accepted], received_at: dt.datetime,
               source: str, result: IngestResult) -> None:
        sql = _statements(session)
        conn = session.connection()
        known = set(conn.execute(sql.known, {"ws": workspace_id, "ids": [a.message_id for a in accepted]}).scalars())
        fresh = [a for a in accepted if a.message_id not in known] if known else accepted
        result.duplicates += len(accepted) - len(fresh)
        if not fresh:
            return
        identities = IdentityResolution(session, workspace_id, received_at)
        _load(identities, fresh)
        contacts = [_resolve(identities, a) for a in fresh]
        for position, item in enumerate(fresh):
            contact = contacts[position]
            if contact is None and item.message.anonymous_id is not None:  # linked later in this batch
                contact = contacts[position] = identities.by_anonymous.get(item.message.anonymous_id)
            if contact is not None:
                identities.touch(contact).saw(min(item.occurred_at, received_at))
        identities.save()
        rows = [_row(workspace_id, a, c, received_at, source) for a, c in zip(fresh, contacts, strict=True)]
        _insert_events(session, rows)
        for contact, row in zip(contacts, rows, strict=True):
            result.stored[row[_TYPE]] += 1
            if contact is not None:
                contact.events.add(row[_NAME] or row[_TYPE])
        if identities.stitched:
            _stitch(conn, sql, workspace_id, identities.stitched)
        facts = [contact_changed(workspace_id, contact.id, fields=contact.fields, events=list(contact.events),
                                 reason="ingest")
                 for contact in identities.touched.values()
                 if contact.id is not None and (contact.events or contact.fields)]
        publish_many(session, facts, now=received_at)


class _Statements:
    """The ingest statements, built once per dialect (building SQLAlchemy constructs costs more than
    running them)."""

    def __init__(self, session: Session) -> None:
        ws: Any = bindparam("ws")
        events = cast(Table, Event.__table__)
        self.known = select(Event.message_id).where(
            Event.workspace_id == ws, Event.message_id.in_(bindparam("ids", expanding=True)))
        # Served by the partial index ix_events_anonymous_id_workspace_id_unlinked ("contact_id IS NULL" is
        # its condition, written the same). "workspace_id + 0" keeps SQLite from walking the contact index
        # (workspace_id, contact_id, …) instead, which it would otherwise judge as good.
        self.waiting = select(Event.anonymous_id, Event.name, Event.type).where(
            Event.anonymous_id.in_(bindparam("anonymous_ids", expanding=True)), Event.workspace_id + 0 == ws,
            Event.contact_id.is_(None))
        self.stitch = update(events).where(
            events.c.anonymous_id == bindparam("_anonymous_id"), events.c.workspace_id + 0 == bindparam("_ws"),
            events.c.contact_id.is_(None)).values(contact_id=bindparam("_contact_id"))


_STATEMENTS: dict[str, _Statements] = {}


def _statements(session: Session) -> _Statements:
    dialect = session.get_bind().dialect.name
    if dialect not in _STATEMENTS:
        _STATEMENTS[dialect] = _Statements(session)
    return _STATEMENTS[dialect]


class _ConcurrentDuplicate(Exception):
    """Some messageIds, new when this request looked, were stored meanwhile by a concurrent request."""


_COLUMNS = ("workspace_id", "contact_id", "message_id", "type", "name", "user_id", "anonymous_id", "group_id",
            "previous_id", "category", "occurred_at", "received_at", "sent_at", "properties", "context",
            "integrations", "source")
_TYPE, _NAME = _COLUMNS.index("type"), _COLUMNS.index("name")
_UNIQUE_MESSAGE_ID = "uq_events_workspace_id_message_id"


def _insert_events(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Inserts the events, whose messageIds were not stored when this transaction looked.

    The bulk path (`insert_rows`: COPY on PostgreSQL, one driver executemany on SQLite), with no
    SQLAlchemy statement per call. On SQLite this transaction is the only writer, so every row goes in.
    On PostgreSQL a concurrent request may have stored one of these messageIds in between: the unique
    constraint refuses the COPY, the transaction is rolled back and the request is redone from the
    start, seeing it stored."""
    try:
        insert_rows(session, cast(Table, Event.__table__), _COLUMNS, rows)
    except Exception as error:  # psycopg's own UniqueViolation: COPY goes to the driver directly
        if _UNIQUE_MESSAGE_ID in str(getattr(error, "orig", error)):
            raise _ConcurrentDuplicate from None
        raise


def _stitch(conn: Connection, sql: _Statements, workspace_id: int,
            stitched: list[tuple[str, ContactDraft]]) -> None:
    """Earlier events of newly linked anonymousIds (still without a contact) follow them to their contact."""
    contacts = {anonymous_id: contact for anonymous_id, contact in stitched}
    for anonymous_id, name, kind in conn.execute(sql.waiting, {"ws": workspace_id, "anonymous_ids": list(contacts)}):
        contacts[str(anonymous_id)].events.add(name or kind)
    conn.execute(sql.stitch, [{"_ws": workspace_id, "_anonymous_id": anonymous_id, "_contact_id": contact.id}
                              for anonymous_id, contact in contacts.items()])


def _contact_traits(message: Any, context: dict[str, Any]) -> dict[str, Any]:
    """The traits a call says about its contact: identify's own traits over `context.traits`."""
    traits = context.get("traits")
    traits = traits if isinstance(traits, dict) else {}
    if isinstance(message, IdentifyMessage) and message.traits:
        return {**traits, **message.traits} if traits else message.traits
    return traits


def _load(identities: IdentityResolution, fresh: list[Accepted]) -> None:
    user_ids: set[str] = set()
    anonymous_ids: set[str] = set()
    emails: set[str] = set()
    group_ids: set[str] = set()
    with_fields = False
    for item in fresh:
        message = item.message
        if message.user_id is not None:
            user_ids.add(message.user_id)
        if message.anonymous_id is not None:
            anonymous_ids.add(message.anonymous_id)
        if isinstance(message, AliasMessage) and message.previous_id is not None:
            user_ids.add(message.previous_id)
            anonymous_ids.add(message.previous_id)
        elif isinstance(message, GroupMessage) and message.group_id is not None:
            group_ids.add(message.group_id)
            with_fields = with_fields or bool(message.traits)
        traits = _contact_traits(message, item.context)
        if traits:
            with_fields = True
            email = traits.get("email")
            normalised = email_or_none(email) if isinstance(email, str) else None
            if normalised is not None:
                emails.add(normalised)
    identities.load(user_ids=user_ids, anonymous_ids=anonymous_ids, emails=emails, group_ids=group_ids,
                    with_fields=with_fields)


def _resolve(identities: IdentityResolution, item: Accepted) -> ContactDraft | None:
    """The contact of one call, after applying what the call says about people and companies."""
    message = item.message
    if isinstance(message, AliasMessage) and message.previous_id and message.user_id:
        identities.alias(message.previous_id, message.user_id)
    traits = _contact_traits(message, item.context)
    email = None
    if isinstance(message, IdentifyMessage) and isinstance(traits.get("email"), str):
        email = email_or_none(traits["email"])
    contact = identities.contact_for(message.user_id, message.anonymous_id, email)
    problems: list[dict[str, str]] = []
    if contact is not None:
        timezone = item.context.get("timezone") if isinstance(message, IdentifyMessage) else None
        if traits or timezone is not None:
            problems += identities.apply_traits(contact, traits, timezone)
    if isinstance(message, GroupMessage) and message.group_id:
        problems += identities.join_company(contact, message.group_id, message.traits or {})
    if problems:
        item.context = {**item.context, WARNINGS_KEY: {"warnings": problems}}
    return contact


def _row(workspace_id: int, item: Accepted, contact: ContactDraft | None, received_at: dt.datetime,
         source: str) -> tuple[Any, ...]:
    message = item.message
    name: str = message.type
    properties: dict[str, Any] | None = None
    category = group_id = previous_id = None
    if isinstance(message, TrackMessage):
        name, properties = message.event or "", message.properties
    elif isinstance(message, PageMessage | ScreenMessage):
        name, category, properties = message.name or "", message.category, message.properties
    elif isinstance(message, IdentifyMessage):
        properties = message.traits
    elif isinstance(message, GroupMessage):
        group_id, properties = message.group_id, message.traits
    elif isinstance(message, AliasMessage):
        previous_id = message.previous_id
    return (workspace_id, contact.id if contact is not None else None, item.message_id, message.type, name,
            message.user_id, message.anonymous_id, group_id, previous_id, category, item.occurred_at, received_at,
            item.sent_at, properties or {}, item.context, message.integrations or {}, source)
