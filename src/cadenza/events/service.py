"""Ingesting Segment calls: validation, idempotency by messageId, identity resolution, storage.

Requests are written in groups (`cadenza.core.group_commit`): those that arrive while one transaction
is being written are written together in the next, in the order they came, as if one after another.
A group is one transaction: its events, the contacts and companies they create or change, the
identities they link and one 'contact changed' outbox fact per affected contact commit together or
not at all, and each request is answered only once its group has committed. A group that fails is
written again request by request, so a bad request fails alone. The hot path is SQLAlchemy Core on
the session's connection: one IN query for known messageIds, a few for identities, one bulk insert for
the events (COPY on PostgreSQL, one driver executemany on SQLite: `cadenza.storage.bulk.insert_rows`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cadenza.auth import Permission, Principal
from cadenza.config import Settings
from cadenza.contacts import ContactDraft, IdentityResolution, email_or_none
from cadenza.core.clock import Clock
from cadenza.core.errors import PermissionDenied
from cadenza.core.group_commit import GroupCommit
from cadenza.events.errors import IngestBusy
from cadenza.events.intake import Accepted, BatchDefaults, Intake, encode_items, new_message_id, read_messages
from cadenza.events.models import Event
from cadenza.storage import Database
from cadenza.storage.bulk import any_of, column_driver, insert_rows
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


@dataclass(eq=False)
class _Request:
    """One request's messages (each its raw JSON), waiting to be written with whatever else arrives meanwhile.

    The group commit's writer validates them (`IngestService._validate`) while the group before commits."""

    principal: Principal
    messages: list[bytes]
    defaults: BatchDefaults | None
    source: str
    received_at: dt.datetime
    intake: Intake = field(default_factory=Intake)
    # Made ready by `_validate`, before the group's transaction: as the driver takes them.
    received: Any = None
    times: list[tuple[Any, Any]] = field(default_factory=list)  # each accepted message's (occurred_at, sent_at)
    result: IngestResult = field(default_factory=IngestResult)

    def restart(self) -> None:
        self.result = IngestResult(duplicates=self.intake.repeated, rejected=self.intake.rejected)


MAX_GROUP_MESSAGES = 5000  # messages written in one transaction at most, from however many requests


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
        # Requests that arrive while one transaction is being written are written together in the next one
        # (its commit and lookups shared), and are validated while that one commits. On SQLite, which has one
        # writer, this is also where ingest requests wait for it, rather than each holding a connection inside
        # SQLite's busy handler under load.
        self._groups: GroupCommit[_Request] = GroupCommit(
            self._write, max_group=MAX_GROUP_MESSAGES, size=lambda request: len(request.messages),
            prepare=self._validate)
        self._time_value = column_driver(db.engine.dialect, cast(Table, Event.__table__), "occurred_at")

    def ingest(self, principal: Principal, items: list[Any], *, defaults: BatchDefaults | None = None,
               source: str = "api") -> IngestResult:
        """As `ingest_raw`, for messages given as Python values (parsed JSON)."""
        return self.ingest_raw(principal, encode_items(items), defaults=defaults, source=source)

    def ingest_raw(self, principal: Principal, messages: list[bytes], *, defaults: BatchDefaults | None = None,
                   source: str = "api") -> IngestResult:
        """Stores the valid messages (each its raw JSON) once each; reports the others by index.

        All or nothing: the request's events, contacts, identities, companies and outbox facts commit
        together (with those of the requests it is grouped with) or not at all. The key of an API-key
        principal is confirmed in that transaction, even when no message is valid."""
        request = self._request(principal, messages, defaults, source)
        self._groups.submit(request)
        return request.result

    async def ingest_raw_async(self, principal: Principal, messages: list[bytes], *,
                               defaults: BatchDefaults | None = None, source: str = "api") -> IngestResult:
        """As `ingest_raw`, awaited on the event loop without holding a thread."""
        request = self._request(principal, messages, defaults, source)
        await self._groups.submit_async(request)
        return request.result

    def close(self) -> None:
        """Writes what is queued, then stops the writer thread."""
        self._groups.close()

    def _request(self, principal: Principal, messages: list[bytes], defaults: BatchDefaults | None,
                 source: str) -> _Request:
        if not principal.can(Permission.INGEST):
            raise PermissionDenied(f"This needs the {Permission.INGEST} permission.")
        return _Request(principal, messages, defaults, source, self.clock.now())

    def _validate(self, request: _Request) -> None:
        """Validates a request's messages (pure work, no I/O) and makes their times ready for the driver."""
        request.intake = intake = read_messages(
            request.messages, received_at=request.received_at, max_event_bytes=self.settings.max_event_bytes,
            defaults=request.defaults, new_id=self.new_id)
        time_value = self._time_value
        request.received = time_value(request.received_at)
        sent_values: dict[dt.datetime | None, Any] = {None: None}  # a batch's messages mostly share one sentAt
        times = []
        for item in intake.accepted:
            sent = item.sent_at
            sent_value = sent_values.get(sent)
            if sent_value is None and sent is not None:
                sent_value = sent_values[sent] = time_value(sent)
            times.append((time_value(item.occurred_at), sent_value))
        request.times = times

    def _write(self, requests: Sequence[_Request]) -> Callable[[], None]:
        """One transaction for a group of requests, in the order they came; redone when a concurrent
        transaction stored some of the same messageIds meanwhile, or when PostgreSQL broke a deadlock with it.
        Returns its commit, which the group commit's finisher runs."""
        attempt = 1
        while True:
            for request in requests:
                request.restart()
            transaction = self.db.open_transaction()
            try:
                with transaction.kept_open() as session:
                    self._store_group(session, requests)
            except (_ConcurrentDuplicate, DBAPIError) as error:
                # Another transaction stored some of these messageIds a moment ago, or PostgreSQL chose this one
                # to break a deadlock with a concurrent one (another server process's ingest about the same
                # people): it was rolled back whole, and is redone from the start.
                if isinstance(error, DBAPIError) and not _is_retryable(error):
                    raise
                if attempt == _ATTEMPTS:  # nothing was stored: the client must send it again
                    raise IngestBusy("Concurrent requests kept conflicting with this one (the same messageIds or "
                                     "the same people at the same moment); nothing of it was stored. Send it again."
                                     ) from None
                attempt += 1
                continue
            return transaction.commit

    def _store_group(self, session: Session, requests: Sequence[_Request]) -> None:
        by_workspace: dict[int, list[_Entry]] = {}
        confirmed: set[tuple[str, int | None]] = set()  # each key once per transaction
        for request in requests:
            principal = request.principal
            # Every request's key, even one with no valid message: a revoked key is refused, not told what was wrong.
            if self.confirm_key is not None and (principal.kind, principal.id) not in confirmed:
                self.confirm_key(session, principal)
                confirmed.add((principal.kind, principal.id))
            if request.intake.accepted:
                entries = by_workspace.setdefault(principal.workspace_id, [])
                entries.extend(zip(request.intake.accepted, itertools.repeat(request), request.times))
        now = max(request.received_at for request in requests)
        for workspace_id, entries in by_workspace.items():
            _store(session, workspace_id, entries, now)


_Entry = tuple[Accepted, _Request, tuple[Any, Any]]  # a message, its request, its times as the driver takes them


def _store(session: Session, workspace_id: int, entries: list[_Entry], now: dt.datetime) -> None:
    """One workspace's messages of a group (each with its request, whose result it counts in)."""
    sql = _statements(session)
    conn = session.connection()
    known = set(conn.execute(sql.known, {"ws": workspace_id, "ids": [e[0].message_id for e in entries]}).scalars())
    fresh_entries: list[_Entry] = []
    seen: set[str] = set()  # a messageId in two requests of the group: the first one stores it
    for entry in entries:
        item, request, _times = entry
        if item.message_id in known or item.message_id in seen:
            request.result.duplicates += 1
            continue
        seen.add(item.message_id)
        fresh_entries.append(entry)
    if not fresh_entries:
        return
    fresh = [item for item, _request, _times in fresh_entries]
    identities = IdentityResolution(session, workspace_id, now)
    _load(identities, fresh)
    contacts = [_resolve(identities, a) for a in fresh]
    for position, (item, request, _times) in enumerate(fresh_entries):
        contact = contacts[position]
        if contact is None and item.anonymous_id is not None:  # linked later in this group
            contact = contacts[position] = identities.by_anonymous.get(item.anonymous_id)
        if contact is not None:
            identities.touch(contact).saw(min(item.occurred_at, request.received_at))
    identities.save()
    rows = [(workspace_id, None if c is None else c.id, a.message_id, a.type, a.name, a.user_id, a.anonymous_id,
             a.group_id, a.previous_id, a.category, occurred, r.received, sent, a.properties, a.context_text(),
             a.integrations, r.source)
            for (a, r, (occurred, sent)), c in zip(fresh_entries, contacts, strict=True)]
    _insert_events(session, rows)
    for (item, request, _times), contact in zip(fresh_entries, contacts, strict=True):
        request.result.stored[item.type] += 1
        if contact is not None:
            contact.events.add(item.name or item.type)
    if identities.stitched:
        _stitch(conn, sql, workspace_id, identities.stitched)
    facts = [contact_changed(workspace_id, contact.id, fields=contact.fields, events=list(contact.events),
                             reason="ingest")
             for contact in identities.touched.values()
             if contact.id is not None and (contact.events or contact.fields)]
    publish_many(session, facts, now=now)


class _Statements:
    """The ingest statements, built once per dialect (building SQLAlchemy constructs costs more than
    running them)."""

    def __init__(self, session: Session) -> None:
        ws: Any = bindparam("ws")
        events = cast(Table, Event.__table__)
        dialect = session.get_bind().dialect.name
        self.known = select(Event.message_id).where(
            Event.workspace_id == ws, any_of(dialect, Event.message_id, "ids"))
        # Served by the partial index ix_events_anonymous_id_workspace_id_unlinked ("contact_id IS NULL" is
        # its condition, written the same). "workspace_id + 0" keeps SQLite from walking the contact index
        # (workspace_id, contact_id, …) instead, which it would otherwise judge as good.
        self.waiting = select(Event.anonymous_id, Event.name, Event.type).where(
            any_of(dialect, Event.anonymous_id, "anonymous_ids"), Event.workspace_id + 0 == ws,
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


_ATTEMPTS = 3  # a request redone after a concurrent one stored some of its messageIds, or after a deadlock
_RETRYABLE = frozenset({"40P01", "40001"})  # PostgreSQL: deadlock detected, serialization failure


def _is_retryable(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) in _RETRYABLE


class _ConcurrentDuplicate(Exception):
    """Some messageIds, new when this request looked, were stored meanwhile by a concurrent request."""


_COLUMNS = ("workspace_id", "contact_id", "message_id", "type", "name", "user_id", "anonymous_id", "group_id",
            "previous_id", "category", "occurred_at", "received_at", "sent_at", "properties", "context",
            "integrations", "source")
_UNIQUE_MESSAGE_ID = "uq_events_workspace_id_message_id"


def _insert_events(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Inserts the events, whose messageIds were not stored when this transaction looked.

    The bulk path (`insert_rows`: COPY on PostgreSQL, one driver executemany on SQLite), with no
    SQLAlchemy statement per call. On SQLite this transaction is the only writer, so every row goes in.
    On PostgreSQL a concurrent request may have stored one of these messageIds in between: the unique
    constraint refuses the COPY, the transaction is rolled back and the request is redone from the
    start, seeing it stored."""
    try:
        insert_rows(session, cast(Table, Event.__table__), _COLUMNS, rows, prepared=True)
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


def _contact_traits(item: Accepted) -> dict[str, Any]:
    """The traits a call says about its contact: identify's own traits over `context.traits`."""
    traits = item.context_traits()
    if item.type == "identify":
        own = item.traits()
        if own:
            return {**traits, **own} if traits else own
    return traits


def _load(identities: IdentityResolution, fresh: list[Accepted]) -> None:
    user_ids: set[str] = set()
    anonymous_ids: set[str] = set()
    emails: set[str] = set()
    group_ids: set[str] = set()
    with_fields = False
    for item in fresh:
        if item.user_id is not None:
            user_ids.add(item.user_id)
        if item.anonymous_id is not None:
            anonymous_ids.add(item.anonymous_id)
        if item.previous_id is not None:  # alias
            user_ids.add(item.previous_id)
            anonymous_ids.add(item.previous_id)
        elif item.group_id is not None:
            group_ids.add(item.group_id)
            with_fields = with_fields or bool(item.traits())
        traits = _contact_traits(item)
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
    if item.previous_id is not None and item.user_id:  # alias
        identities.alias(item.previous_id, item.user_id)
    traits = _contact_traits(item)
    email = None
    is_identify = item.type == "identify"
    if is_identify and isinstance(traits.get("email"), str):
        email = email_or_none(traits["email"])
    contact = identities.contact_for(item.user_id, item.anonymous_id, email)
    problems: list[dict[str, str]] = []
    if contact is not None:
        timezone = item.context().get("timezone") if is_identify else None
        if traits or timezone is not None:
            problems += identities.apply_traits(contact, traits, timezone)
    if item.group_id is not None:
        problems += identities.join_company(contact, item.group_id, item.traits())
    if problems:
        item.add_to_context(WARNINGS_KEY, {"warnings": problems})
    return contact
