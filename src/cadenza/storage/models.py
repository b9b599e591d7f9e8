"""Tables owned by the storage layer: jobs, the transactional outbox, idempotency keys, worker heartbeats
and probe runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cadenza.storage.base import Base, BigId, JSONType, UTCDateTime, id_column


class Job(Base):
    """A unit of background work with a due time. Claimed in batches; retried with backoff."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_due_at_id", "status", "due_at", "id"),  # claims read due jobs in this order
        Index("ix_jobs_workspace_id_id", "workspace_id", "id"),
    )

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Jobs sharing a serialisation key never run at the same time (one contact in one journey).
    key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|running|done|failed|cancelled
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OutboxMessage(Base):
    """A fact written in the same transaction as the change it describes, relayed after commit."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_published_at_id", "published_at", "id"),)

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotencyKey(Base):
    """The stored answer to a POST sent with an Idempotency-Key header, replayed on a retry."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class WorkerHeartbeat(Base):
    """A worker's sign of life, renewed every few seconds; /readyz wants one fresher than a minute."""

    __tablename__ = "worker_heartbeats"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ProbeRun(Base):
    """One run of a `system.probe` job: which worker ran it, and when. Operators enqueue probes to prove
    that every worker claims and runs work (`cadenza jobs probe`); a job run twice shows up twice."""

    __tablename__ = "probe_runs"

    id: Mapped[int] = id_column()
    job_id: Mapped[int] = mapped_column(BigId, index=True)
    worker_id: Mapped[str] = mapped_column(String(100))
    ran_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
