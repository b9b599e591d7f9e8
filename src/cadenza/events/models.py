"""The event store: every ingested Segment call and every internal event, in one stream."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from cadenza.storage.base import Base, BigId, JSONType, UTCDateTime, id_column


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("workspace_id", "message_id"),
        Index(
            "ix_events_workspace_id_contact_id_name_occurred_at",
            "workspace_id", "contact_id", "name", "occurred_at",
        ),
        Index("ix_events_workspace_id_occurred_at", "workspace_id", "occurred_at"),
        # Only events still waiting for their person, which identity stitching looks up by anonymousId.
        # Events with a contact stay out of it: the index stays small and ingesting known people cheaper.
        # anonymous_id leads so that SQLite's planner, which has no statistics, prefers it (see events/service.py).
        Index("ix_events_anonymous_id_workspace_id_unlinked", "anonymous_id", "workspace_id",
              sqlite_where=text("contact_id IS NULL"), postgresql_where=text("contact_id IS NULL")),
    )

    id: Mapped[int] = id_column()
    # No foreign keys on the hottest table: on PostgreSQL each one is a trigger that looks up and KEY SHARE-locks
    # the parent row for every event written (together a third of the COPY's time in bench/ingest_batch.py). The
    # application keeps them true instead: ingest writes only contacts it has locked or created in the same
    # transaction, deleting a contact unlinks its events in the same transaction (EventTimeline.unlink_events),
    # a merge moves them first, and workspaces are never deleted.
    workspace_id: Mapped[int] = mapped_column(BigId)
    contact_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    message_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(20))  # identify|track|page|screen|group|alias|internal
    name: Mapped[str] = mapped_column(String(255), default="")  # event name, page/screen name, "identify"
    user_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    anonymous_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    group_id: Mapped[str | None] = mapped_column(String(255), nullable=True)  # Segment group: groupId
    previous_id: Mapped[str | None] = mapped_column(String(255), nullable=True)  # Segment alias: previousId
    category: Mapped[str | None] = mapped_column(String(255), nullable=True)  # Segment page/screen category
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # properties or traits
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    integrations: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    source: Mapped[str] = mapped_column(String(50), default="api")  # api|import|internal|...
