"""The transactional outbox: facts written with the change, relayed to subscribers after commit.

`publish`/`publish_many` add facts to the caller's open unit of work, so a fact exists if and only if
the change it describes committed. `OutboxRelay.relay` then takes unpublished facts in id order and, in
one transaction, turns each into the job kinds subscribed to its topic (`JobRegistry.on_topic`) and
marks it published: a fact reaches the job queue exactly once. The worker that relayed them then delivers
them to in-process subscribers (`EventBus.publish_unsafe`), after that transaction committed.

One relay runs at a time (a transaction-scoped advisory lock on PostgreSQL, the write lock on SQLite),
so batches are handed on in id order even with many workers. Ids come from a sequence taken at insert,
so a fact whose transaction commits late can follow facts with higher ids: it is delivered in a later
batch, never lost. Subscribers are therefore written to re-read current state, not to rely on order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Select, Table, delete, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TextualSelect

from cadenza.storage.bulk import driver_value, insert_rows
from cadenza.storage.database import Database, json_dumps
from cadenza.storage.models import OutboxMessage
from cadenza.storage.queue import enqueue_many

CONTACT_CHANGED = "contact.changed"
# Advisory lock (PostgreSQL) that makes the relay a singleton across processes.
_RELAY_LOCK = (7_311_002, 1)

Fact = tuple[str, int | None, dict[str, Any]]
_FACT_COLUMNS = ("workspace_id", "topic", "payload", "created_at")
_BULK_FROM = 8  # facts: below this a plain INSERT costs fewer round trips than COPY
_OUTBOX = cast(Table, OutboxMessage.__table__)


def publish(session: Session, topic: str, payload: dict[str, Any], *, now: dt.datetime,
            workspace_id: int | None = None) -> None:
    """Adds a fact to the open unit of work."""
    session.add(OutboxMessage(workspace_id=workspace_id, topic=topic, payload=payload, created_at=now))


def publish_many(session: Session, rows: list[dict[str, Any]], *, now: dt.datetime) -> None:
    """Adds many facts at once: rows of {workspace_id, topic, payload}. A few go in one Core INSERT; more take the
    bulk path (COPY on PostgreSQL: one round trip rather than one prepared statement a row)."""
    if len(rows) >= _BULK_FROM:
        stamp = fact_stamp(session, now)
        publish_prepared(session, [(row.get("workspace_id"), row["topic"], json_dumps(row["payload"]), stamp)
                                   for row in rows])
    elif rows:
        session.execute(insert(_OUTBOX), [{**row, "created_at": now} for row in rows])


def fact_stamp(session: Session, now: dt.datetime) -> Any:
    """`now` as `publish_prepared` takes it (what the driver receives for the outbox's `created_at`)."""
    return driver_value(session, _OUTBOX, "created_at", now)


def publish_prepared(session: Session, rows: Sequence[tuple[int | None, str, str, Any]]) -> None:
    """Adds facts already in the outbox's row form, through the bulk path: (workspace_id, topic, the payload's
    JSON text, `fact_stamp`). For writers that make many facts' JSON faster than `publish_many` would."""
    insert_rows(session, _OUTBOX, _FACT_COLUMNS, rows, prepared=True)


def publish_selected(session: Session, rows: Select[Any] | TextualSelect) -> None:
    """Adds the facts a SELECT yields in the outbox's row form (as for `publish_prepared`), made by the database:
    for writers whose rows are there already (`storage.bulk.load_stage`). Ids follow the SELECT's order."""
    session.execute(insert(_OUTBOX).from_select(list(_FACT_COLUMNS), rows))


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
        *,
        topic_jobs: Mapping[str, Sequence[str]] | None = None,
    ) -> list[Fact]:
        """Relays one batch. Each fact of a topic in `topic_jobs` becomes one job of each listed kind (one
        INSERT for the batch); `on_message` is called for each fact inside the transaction. Returns the
        relayed facts, or nothing when another relay is running."""
        with self.db.transaction() as session:
            if self.db.is_postgres and not session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:a, :b)"), {"a": _RELAY_LOCK[0], "b": _RELAY_LOCK[1]}
            ):
                return []
            query = (select(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.workspace_id,
                            OutboxMessage.payload)
                     .where(OutboxMessage.published_at.is_(None)).order_by(OutboxMessage.id).limit(limit))
            messages = [(id_, topic, workspace_id, dict(payload or {}))
                        for id_, topic, workspace_id, payload in session.execute(query)]
            if not messages:
                return []
            jobs = [
                {"kind": kind, "payload": payload, "workspace_id": workspace_id}
                for _id, topic, workspace_id, payload in messages
                for kind in (topic_jobs or {}).get(topic, ())
            ]
            enqueue_many(session, jobs, now=now)
            if on_message is not None:
                for _id, topic, workspace_id, payload in messages:
                    on_message(session, topic, workspace_id, payload)
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([m[0] for m in messages]))
                            .values(published_at=now))
            return [(topic, workspace_id, payload) for _id, topic, workspace_id, payload in messages]

    def prune(self, published_before: dt.datetime) -> int:
        """Deletes facts published before the given time (they have been handed on)."""
        with self.db.transaction() as session:
            result = session.execute(delete(OutboxMessage).where(OutboxMessage.published_at < published_before))
            return int(result.rowcount)  # type: ignore[attr-defined]
