"""Use cases on contacts: create, upsert, read, update, delete, list, tags.

Each state change is one transaction holding the change, its audit entry and one 'contact changed'
outbox fact naming what changed: column names (`email`, `company_id` …), `attributes.<key>` for custom
fields, `tags`, and the markers `created` / `deleted`. Audit entries carry old → new values except for
personal data (email, phone, names, custom fields marked personal), which is named but `"redacted"`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadenza.auth import Permission, Principal, record_audit
from cadenza.contacts.errors import ContactNotFound, DuplicateContact, require
from cadenza.contacts.export import contact_csv
from cadenza.contacts.fields import FieldDefinition, load_definitions, merge_attributes
from cadenza.contacts.models import Contact, ContactTag
from cadenza.contacts.normalize import email_or_error, phone_or_error
from cadenza.contacts.queries import contacts_out, list_contact_rows, lock_companies, normalise_tag
from cadenza.contacts.schemas import ContactCreate, ContactFilters, ContactOut, ContactUpdate, ContactUpsert
from cadenza.core.clock import Clock
from cadenza.core.errors import Conflict, ValidationFailed
from cadenza.core.pagination import Page, clamp_limit, id_from_cursor, next_id_cursor
from cadenza.storage import Database
from cadenza.storage.dialect import insert_ignoring_conflicts
from cadenza.storage.outbox import contact_changed, publish_many

COLUMNS = ("email", "phone", "first_name", "last_name", "external_id", "timezone", "company_id")
PERSONAL_COLUMNS = frozenset({"email", "phone", "first_name", "last_name"})
REDACTED = "redacted"
T = TypeVar("T")


class ContactEvents(Protocol):
    """What deleting a contact needs from the event store (a higher layer, injected at bootstrap)."""

    def unlink_events(self, session: Session, workspace_id: int, contact_id: int) -> None:
        """The contact's events stay, with no contact."""
        ...


class ContactService:
    def __init__(self, db: Database, clock: Clock, events: ContactEvents) -> None:
        self.db = db
        self.clock = clock
        self.events = events

    # ---- reads ------------------------------------------------------------------------------

    def get_contact(self, principal: Principal, contact_id: int) -> ContactOut:
        require(principal, Permission.READ)
        with self.db.read() as session:
            contact = _load(session, principal.workspace_id, contact_id)
            return contacts_out(session, principal.workspace_id, [contact])[0]

    def list_contacts(self, principal: Principal, filters: ContactFilters, *, limit: int | None = None,
                      cursor: str | None = None) -> Page[ContactOut]:
        """Contacts matching every filter, newest first; keyset-paginated on id."""
        require(principal, Permission.READ)
        limit = clamp_limit(limit)
        with self.db.read() as session:
            before_id = id_from_cursor(cursor) if cursor else None
            rows = list_contact_rows(session, principal.workspace_id, filters, before_id=before_id, limit=limit + 1)
            next_cursor = next_id_cursor(rows, limit)
            return Page(contacts_out(session, principal.workspace_id, rows[:limit]), next_cursor)

    def count_contacts(self, principal: Principal) -> int:
        """How many contacts the workspace has."""
        require(principal, Permission.READ)
        with self.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(Contact).where(
                Contact.workspace_id == principal.workspace_id)) or 0)

    def export_csv(self, principal: Principal, filters: ContactFilters) -> Iterator[str]:
        """The contacts matching `filters` as CSV lines (see `contacts.export`), newest first. The export of
        personal data is recorded in the audit log, with its filters, before anything is read."""
        require(principal, Permission.READ)
        with self.db.transaction() as session:
            record_audit(session, principal, "contacts.exported", at=self.clock.now(), target_type="contact",
                         changes={"filters": filters.model_dump(mode="json", exclude_none=True,
                                                                exclude_defaults=True)})
        return contact_csv(self.db, principal.workspace_id, filters)

    # ---- changes ----------------------------------------------------------------------------

    def create_contact(self, principal: Principal, data: ContactCreate) -> ContactOut:
        require(principal, Permission.WRITE)
        now = self.clock.now()
        with conflicts_as_409(), self.db.transaction() as session:
            contact = self._insert(session, principal, data, now)
            return contacts_out(session, principal.workspace_id, [contact])[0]

    def upsert_contact(self, principal: Principal, data: ContactUpsert) -> tuple[ContactOut, bool]:
        """Updates the contact with this external_id (else this email), or creates one. True when created."""
        require(principal, Permission.WRITE)
        if data.external_id is None and not data.email:
            raise ValidationFailed("An upsert needs an email or an external_id to match on.",
                                   errors=[{"field": "email", "message": "email or external_id is required"}])
        now = self.clock.now()
        ws = principal.workspace_id
        with conflicts_as_409(), self.db.transaction() as session:
            email = email_or_error(data.email) if data.email else None
            existing = _match(session, ws, email, data.external_id)
            if existing is None:
                contact = self._insert(session, principal, ContactCreate(**data.model_dump()), now)
                return contacts_out(session, ws, [contact])[0], True
            given = data.model_dump(exclude_unset=True)
            tags = [normalise_tag(t) for t in given.pop("tags", [])]
            changed = self._change(session, principal, existing, given, now)
            added = _add_tags(session, ws, existing.id, tags)
            if added:
                existing.updated_at = now
                changed.append("tags")
                record_audit(session, principal, "contact.tagged", at=now, target_type="contact",
                             target_id=existing.id, changes={"tags": {"added": added}})
            if changed:
                publish_many(session, [contact_changed(ws, existing.id, fields=changed, reason="api")], now=now)
            return contacts_out(session, ws, [existing])[0], False

    def update_contact(self, principal: Principal, contact_id: int, data: ContactUpdate) -> ContactOut:
        """A partial update: only the keys sent change; `attributes` merge key by key."""
        require(principal, Permission.WRITE)
        now = self.clock.now()
        ws = principal.workspace_id
        with conflicts_as_409(), self.db.transaction() as session:
            contact = _load(session, ws, contact_id, lock=True)
            changed = self._change(session, principal, contact, data.model_dump(exclude_unset=True), now)
            if changed:
                publish_many(session, [contact_changed(ws, contact.id, fields=changed, reason="api")], now=now)
            return contacts_out(session, ws, [contact])[0]

    def delete_contact(self, principal: Principal, contact_id: int) -> None:
        """Deletes the contact, its tags and identities; its events stay, with contact_id NULL."""
        require(principal, Permission.WRITE)
        now = self.clock.now()
        ws = principal.workspace_id
        with self.db.transaction() as session:
            contact = _load(session, ws, contact_id, lock=True)
            # The row goes first: on PostgreSQL this waits for an ingest that holds it, whose events are then seen.
            session.execute(delete(Contact).where(Contact.workspace_id == ws, Contact.id == contact.id))
            session.execute(delete(ContactTag).where(ContactTag.workspace_id == ws,
                                                     ContactTag.contact_id == contact.id))
            self.events.unlink_events(session, ws, contact.id)
            record_audit(session, principal, "contact.deleted", at=now, target_type="contact", target_id=contact.id,
                         changes={"external_id": contact.external_id} if contact.external_id else None)
            publish_many(session, [contact_changed(ws, contact.id, fields=["deleted"], reason="api")], now=now)

    def add_tags(self, principal: Principal, contact_id: int, tags: list[str]) -> ContactOut:
        require(principal, Permission.WRITE)
        cleaned = [normalise_tag(tag) for tag in tags]
        now = self.clock.now()
        ws = principal.workspace_id
        with self.db.transaction() as session:
            contact = _load(session, ws, contact_id, lock=True)
            added = _add_tags(session, ws, contact.id, cleaned)
            if added:
                contact.updated_at = now
                record_audit(session, principal, "contact.tagged", at=now, target_type="contact",
                             target_id=contact.id, changes={"tags": {"added": added}})
                publish_many(session, [contact_changed(ws, contact.id, fields=["tags"], reason="api")], now=now)
            return contacts_out(session, ws, [contact])[0]

    def remove_tag(self, principal: Principal, contact_id: int, tag: str) -> ContactOut:
        """Removes one tag. Removing a tag the contact does not have changes nothing (and is no error)."""
        require(principal, Permission.WRITE)
        cleaned = normalise_tag(tag, "tag")
        now = self.clock.now()
        ws = principal.workspace_id
        with self.db.transaction() as session:
            contact = _load(session, ws, contact_id, lock=True)
            removed = session.execute(delete(ContactTag).where(
                ContactTag.workspace_id == ws, ContactTag.contact_id == contact.id, ContactTag.tag == cleaned))
            if removed.rowcount:  # type: ignore[attr-defined]
                contact.updated_at = now
                record_audit(session, principal, "contact.untagged", at=now, target_type="contact",
                             target_id=contact.id, changes={"tags": {"removed": [cleaned]}})
                publish_many(session, [contact_changed(ws, contact.id, fields=["tags"], reason="api")], now=now)
            return contacts_out(session, ws, [contact])[0]

    # ---- the steps shared by the use cases ---------------------------------------------------

    def _insert(self, session: Session, principal: Principal, data: ContactCreate, now: dt.datetime) -> Contact:
        ws = principal.workspace_id
        problems = _Problems()
        values: dict[str, Any] = problems.run(
            lambda: _normalise_columns(session, ws, data.model_dump(include=set(COLUMNS))), {})
        definitions = load_definitions(session, ws, "contact")
        attributes: dict[str, Any] = problems.run(
            lambda: merge_attributes(definitions, {}, data.attributes, creating=True), {})
        tags: list[str] = problems.run(lambda: [normalise_tag(tag) for tag in data.tags], [])
        problems.raise_any()
        values = {name: value for name, value in values.items() if value is not None}
        _check_unique(session, ws, values, exclude_id=None)
        contact = Contact(workspace_id=ws, attributes=attributes, created_at=now, updated_at=now, **values)
        session.add(contact)
        session.flush()
        added = _add_tags(session, ws, contact.id, tags)
        changes = {name: (None, value) for name, value in values.items()}
        changes.update({f"attributes.{key}": (None, value) for key, value in attributes.items()})
        audit = _audit_changes(changes, definitions)
        if added:
            audit["tags"] = {"added": added}
        record_audit(session, principal, "contact.created", at=now, target_type="contact", target_id=contact.id,
                     changes=audit)
        fields = ["created", *changes, *(["tags"] if added else [])]
        publish_many(session, [contact_changed(ws, contact.id, fields=fields, reason="api")], now=now)
        return contact

    def _change(self, session: Session, principal: Principal, contact: Contact, given: dict[str, Any],
                now: dt.datetime) -> list[str]:
        """Applies the given columns and attributes, audits them; returns the names of what changed."""
        ws = principal.workspace_id
        problems = _Problems()
        columns = {name: given[name] for name in COLUMNS if name in given}
        values: dict[str, Any] = problems.run(lambda: _normalise_columns(session, ws, columns), {})
        definitions = load_definitions(session, ws, "contact")
        incoming = given.get("attributes") or {}
        current = dict(contact.attributes or {})
        attributes = problems.run(lambda: merge_attributes(definitions, current, incoming, creating=False), current)
        problems.raise_any()
        changes = {name: (getattr(contact, name), value) for name, value in values.items()
                   if getattr(contact, name) != value}
        _check_unique(session, ws, {name: new for name, (_old, new) in changes.items()}, exclude_id=contact.id)
        for key in sorted(set(current) | set(attributes)):
            if current.get(key) != attributes.get(key):
                changes[f"attributes.{key}"] = (current.get(key), attributes.get(key))
        if not changes:
            return []
        for name in values:
            setattr(contact, name, values[name])
        contact.attributes = attributes
        contact.updated_at = now
        record_audit(session, principal, "contact.updated", at=now, target_type="contact", target_id=contact.id,
                     changes=_audit_changes(changes, definitions))
        session.flush()
        return list(changes)


def _load(session: Session, workspace_id: int, contact_id: int, *, lock: bool = False) -> Contact:
    """The contact; with `lock`, held until the transaction ends (a change, or tags written for it)."""
    query = select(Contact).where(Contact.workspace_id == workspace_id, Contact.id == contact_id)
    contact = session.scalar(query.with_for_update() if lock else query)
    if contact is None:
        raise ContactNotFound(f"No contact {contact_id} in this workspace.")
    return contact


def _match(session: Session, workspace_id: int, email: str | None, external_id: str | None) -> Contact | None:
    by_external_id = by_email = None
    if external_id is not None:
        by_external_id = session.scalar(select(Contact).where(Contact.workspace_id == workspace_id,
                                                              Contact.external_id == external_id).with_for_update())
    if email is not None:
        by_email = session.scalar(select(Contact).where(Contact.workspace_id == workspace_id, Contact.email == email)
                                  .with_for_update())
    if by_external_id is not None and by_email is not None and by_external_id.id != by_email.id:
        raise DuplicateContact("This external_id and this email belong to two different contacts.",
                               errors=[{"field": "email", "message": "belongs to another contact"}],
                               contact_id=by_email.id)
    if by_external_id is not None:
        return by_external_id
    if by_email is not None and external_id is not None and by_email.external_id not in (None, external_id):
        raise DuplicateContact("This email belongs to a contact with another external_id.",
                               errors=[{"field": "email", "message": "belongs to another contact"}],
                               contact_id=by_email.id)
    return by_email


def _normalise_columns(session: Session, workspace_id: int, given: dict[str, Any]) -> dict[str, Any]:
    """The stored form of each given column (`None` clears it). Raises one 422 listing every problem."""
    problems = _Problems()
    values: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            values[name] = None
        elif name == "email":
            values[name] = problems.run(partial(email_or_error, value), None)
        elif name == "phone":
            values[name] = problems.run(partial(phone_or_error, value), None)
        elif name == "timezone":
            values[name] = problems.run(partial(_timezone, value), None)
        elif name == "company_id":
            values[name] = problems.run(partial(_company_in_workspace, session, workspace_id, value), None)
        elif name == "external_id":
            values[name] = value.strip() or None
            if values[name] is None:
                problems.add("external_id", "is empty")
        else:  # names
            values[name] = value.strip() or None
    problems.raise_any()
    return values


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value.strip())
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ValidationFailed("timezone is not an IANA time zone.",
                               errors=[{"field": "timezone", "message": "is not an IANA time zone like Europe/Paris"}])
    return value.strip()


def _company_in_workspace(session: Session, workspace_id: int, company_id: int) -> int:
    """The company's id, held (`FOR KEY SHARE`) until the transaction ends: it cannot be deleted meanwhile."""
    if not lock_companies(session, workspace_id, [company_id]):
        raise ValidationFailed(f"No company {company_id} in this workspace.",
                               errors=[{"field": "company_id", "message": "no such company in this workspace"}])
    return company_id


def _check_unique(session: Session, workspace_id: int, values: dict[str, Any], exclude_id: int | None) -> None:
    for name in ("email", "external_id"):
        value = values.get(name)
        if value is None:
            continue
        query = select(Contact.id).where(Contact.workspace_id == workspace_id, getattr(Contact, name) == value)
        if exclude_id is not None:
            query = query.where(Contact.id != exclude_id)
        existing = session.scalar(query.limit(1))
        if existing is not None:
            raise DuplicateContact(f"A contact with this {name} already exists.",
                                   errors=[{"field": name, "message": "already exists"}], contact_id=existing)


def _add_tags(session: Session, workspace_id: int, contact_id: int, tags: Iterable[str]) -> list[str]:
    """Adds the tags the contact lacks; returns those added, in the order given."""
    wanted = list(dict.fromkeys(tags))
    if not wanted:
        return []
    have = set(session.scalars(select(ContactTag.tag).where(
        ContactTag.workspace_id == workspace_id, ContactTag.contact_id == contact_id, ContactTag.tag.in_(wanted))))
    added = [tag for tag in wanted if tag not in have]
    if added:
        session.execute(insert_ignoring_conflicts(session, ContactTag.__table__,  # type: ignore[arg-type]
                                                  ["workspace_id", "contact_id", "tag"]),
                        [{"workspace_id": workspace_id, "contact_id": contact_id, "tag": tag} for tag in added])
    return added


def _audit_changes(changes: dict[str, tuple[Any, Any]], definitions: dict[str, FieldDefinition]) -> dict[str, Any]:
    """old → new per changed name; personal data is named but its values are not copied into the log."""
    audit: dict[str, Any] = {}
    for name, (old, new) in changes.items():
        key = name.removeprefix("attributes.")
        personal = name in PERSONAL_COLUMNS or (key != name and key in definitions and definitions[key].is_personal)
        audit[name] = REDACTED if personal else [old, new]
    return audit


class _Problems:
    """Collects the 422 problems of several values, so one answer lists them all."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def run(self, step: Callable[[], T], fallback: Any) -> T:
        try:
            return step()
        except ValidationFailed as error:
            self.errors.extend(error.errors or [{"message": error.detail}])
            return fallback

    def add(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def raise_any(self) -> None:
        if self.errors:
            detail = "; ".join(f"{e.get('field', '')} {e.get('message', '')}".strip() for e in self.errors[:5])
            raise ValidationFailed(detail, errors=self.errors)


@contextmanager
def conflicts_as_409() -> Iterator[None]:
    """A unique or foreign key violation that raced past the checks answers 409, not 500."""
    try:
        yield
    except IntegrityError as error:
        raise Conflict("This change conflicts with another one made at the same time; retry it.") from error

