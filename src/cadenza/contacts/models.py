"""Contacts, companies, custom field definitions, identities, tags, merges, duplicate candidates and scans."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, Computed, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cadenza.storage.base import Base, BigId, JSONType, UTCDateTime, id_column


class Company(Base):
    __tablename__ = "companies"
    __table_args__ = (
        UniqueConstraint("workspace_id", "external_id"),
        Index("ix_companies_workspace_id_name", "workspace_id", "name"),
        Index("ix_companies_workspace_id_domain", "workspace_id", "domain"),
    )

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)  # Segment groupId
    name: Mapped[str] = mapped_column(String(255), default="")
    domain: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Contact(Base):
    """One person. `email`/`phone` are stored normalised (lower-cased address, E.164 number)."""

    __tablename__ = "contacts"
    __table_args__ = (
        # Unique indexes rather than constraints so that, on PostgreSQL, they also serve the list's prefix
        # search (LIKE 'abc%' needs text_pattern_ops under a non-C collation); ON CONFLICT infers them alike.
        Index("uq_contacts_workspace_id_external_id", "workspace_id", "external_id", unique=True,
              postgresql_ops={"external_id": "text_pattern_ops"}),
        Index("uq_contacts_workspace_id_email", "workspace_id", "email", unique=True,
              postgresql_ops={"email": "text_pattern_ops"}),
        Index("ix_contacts_workspace_id_id", "workspace_id", "id"),
        Index("ix_contacts_workspace_id_phone", "workspace_id", "phone", postgresql_ops={"phone": "text_pattern_ops"}),
        # id last: a company's contacts come newest first straight from the index (keyset pagination).
        Index("ix_contacts_workspace_id_company_id", "workspace_id", "company_id", "id"),
        Index("ix_contacts_workspace_id_created_at", "workspace_id", "created_at"),
        Index("ix_contacts_workspace_id_updated_at", "workspace_id", "updated_at"),
        Index("ix_contacts_workspace_id_first_name_lower", "workspace_id", "first_name_lower",
              postgresql_ops={"first_name_lower": "text_pattern_ops"}),
        Index("ix_contacts_workspace_id_last_name_lower", "workspace_id", "last_name_lower",
              postgresql_ops={"last_name_lower": "text_pattern_ops"}),
    )

    id: Mapped[int] = id_column()
    # No foreign keys here nor on contact_tags: on PostgreSQL each is a trigger that looks up and KEY SHARE-locks
    # the parent row for every row written (most of an import's COPY time into these two tables). The
    # application keeps them true: a transaction that links a contact to a company holds that company (`FOR KEY
    # SHARE`, `lock_companies`) or created it, and deleting a company takes its row first and then unlinks its
    # contacts; tags are only written for contacts created or locked in the same transaction, and deleting a
    # contact deletes its tags; workspaces are never deleted.
    workspace_id: Mapped[int] = mapped_column(BigId)
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)  # Segment userId
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    first_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    company_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # Custom field values and unmapped Segment traits, keyed by field key.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Lower-cased names kept by the database itself, indexed for the list's case-insensitive prefix search
    # (expression indexes would do, but Alembic cannot reflect them on SQLite). Never written by us.
    first_name_lower: Mapped[str | None] = mapped_column(String(200), Computed("lower(first_name)", persisted=True))
    last_name_lower: Mapped[str | None] = mapped_column(String(200), Computed("lower(last_name)", persisted=True))


class ContactIdentity(Base):
    """An identifier that resolves to a contact: an anonymousId, a userId or a former userId (alias)."""

    __tablename__ = "contact_identities"
    __table_args__ = (
        UniqueConstraint("workspace_id", "kind", "value"),
        Index("ix_contact_identities_workspace_id_contact_id", "workspace_id", "contact_id"),
    )

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # anonymous_id|user_id
    value: Mapped[str] = mapped_column(String(255))
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ContactTag(Base):
    __tablename__ = "contact_tags"
    __table_args__ = (
        UniqueConstraint("workspace_id", "contact_id", "tag"),
        # contact_id last: a tag's contacts come newest first straight from the index.
        Index("ix_contact_tags_workspace_id_tag", "workspace_id", "tag", "contact_id"),
    )

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int] = mapped_column(BigId)  # no foreign keys: see Contact
    contact_id: Mapped[int] = mapped_column(BigId)
    tag: Mapped[str] = mapped_column(String(100))


class CustomField(Base):
    """A typed custom field on contacts or companies: text, number, boolean, date, enum or list."""

    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("workspace_id", "entity", "key"),)

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20), default="contact")  # contact|company
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))  # text|number|boolean|date|enum|list
    options: Mapped[list[str]] = mapped_column(JSONType, default=list)  # allowed values for enum/list
    is_required: Mapped[bool] = mapped_column(Boolean, default=False)
    is_personal: Mapped[bool] = mapped_column(Boolean, default=False)  # PII: erased, may be encrypted
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ContactMerge(Base):
    """A merge of `merged_contact_id` into `survivor_id`, with what moved."""

    __tablename__ = "contact_merges"
    __table_args__ = (Index("ix_contact_merges_workspace_id_survivor_id", "workspace_id", "survivor_id"),)

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    survivor_id: Mapped[int] = mapped_column(BigId)
    merged_contact_id: Mapped[int] = mapped_column(BigId)
    merged_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    moved: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    actor_label: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DuplicateCandidate(Base):
    """A pair of contacts that are likely one person, waiting for a person to review."""

    __tablename__ = "duplicate_candidates"
    __table_args__ = (UniqueConstraint("workspace_id", "contact_id", "other_contact_id"),)

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    other_contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(50))  # email|phone|name_company|identity_conflict
    score: Mapped[float] = mapped_column(Float, default=1.0)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|merged|dismissed
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DuplicateScan(Base):
    """One run of the duplicate scan in a workspace: a job on the queue, with its progress, result and error."""

    __tablename__ = "duplicate_scans"
    __table_args__ = (Index("ix_duplicate_scans_workspace_id_id", "workspace_id", "id"),)

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    # The workspace while the scan is queued or running, NULL once it ended: unique, so one scan at a time.
    active_workspace_id: Mapped[int | None] = mapped_column(BigId, nullable=True, unique=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|running|done|failed|cancelled
    job_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    contacts_done: Mapped[int] = mapped_column(BigInteger, default=0)  # rows read, over the scan's passes
    contacts_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pairs_found: Mapped[int] = mapped_column(Integer, default=0)  # new candidate pairs stored
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ContactImport(Base):
    """A CSV import: its mapping, progress, counts and where its per-row error report lives."""

    __tablename__ = "contact_imports"
    __table_args__ = (Index("ix_contact_imports_workspace_id_id", "workspace_id", "id"),)

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    stored_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    encoding: Mapped[str | None] = mapped_column(String(40), nullable=True)
    delimiter: Mapped[str | None] = mapped_column(String(4), nullable=True)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    update_existing: Mapped[bool] = mapped_column(Boolean, default=True)
    default_region: Mapped[str | None] = mapped_column(String(2), nullable=True)  # phone numbers without +
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|running|done|failed|cancelled|expired
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_created: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_failed: Mapped[int] = mapped_column(Integer, default=0)
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0)  # matched a contact, changed nothing
    bytes_total: Mapped[int] = mapped_column(BigId, default=0)
    # Resume point: the byte offset and physical line just after the last committed row.
    bytes_done: Mapped[int] = mapped_column(BigId, default=0)
    lines_done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last change of status or progress: when a failed or abandoned import stopped (uploads of those
    # are deleted some days later, see `ImportService.delete_stale_uploads`).
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ImportRowError(Base):
    __tablename__ = "contact_import_errors"
    __table_args__ = (Index("ix_contact_import_errors_import_id_line", "import_id", "line"),)

    id: Mapped[int] = id_column()
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    import_id: Mapped[int] = mapped_column(BigId, ForeignKey("contact_imports.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(255), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text, nullable=True)
