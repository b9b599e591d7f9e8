"""Where identity resolution reads and writes: the batch's drafts, loaded and saved in a few statements.

`IdentityStore.load` reads a batch's known identities, contacts (locked in id order on PostgreSQL), companies
and custom fields with a handful of IN queries; `save` writes every change in a handful of statements,
new contacts in one order so that concurrent batches queue rather than deadlock. The rules that change the
drafts in between are `contacts.identity.IdentityResolution`, which extends this class. The caller owns the
transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, union, union_all, update
from sqlalchemy.orm import Session

from cadenza.contacts.models import Company, Contact, ContactIdentity, CustomField, DuplicateCandidate
from cadenza.storage.bulk import any_of
from cadenza.storage.dialect import insert_ignoring_any_conflict, insert_ignoring_conflicts

USER_ID = "user_id"
ANONYMOUS_ID = "anonymous_id"
IDENTITY_CONFLICT = "identity_conflict"
PROFILE = ("external_id", "email", "phone", "first_name", "last_name", "timezone", "company_id")


class _Statements:
    """The statements of identity resolution, built once per dialect: building SQLAlchemy constructs
    costs more than running these small queries."""

    def __init__(self, session: Session) -> None:
        ws: Any = bindparam("ws")
        identity, contact, company = ContactIdentity, Contact, Company
        dialect = session.get_bind().dialect.name
        # One simple query per kind of key (UNION ALL): SQLite will not search an index for an OR of them.
        self.identities = union_all(*(
            select(identity.kind, identity.value, identity.contact_id).where(
                identity.workspace_id == ws, identity.kind == kind, any_of(dialect, identity.value, f"{kind}s"))
            for kind in (USER_ID, ANONYMOUS_ID)))
        wanted = union(
            select(contact.id).where(any_of(dialect, contact.id, "ids")),
            select(contact.id).where(contact.workspace_id == ws, any_of(dialect, contact.external_id, "user_ids")),
            select(contact.id).where(contact.workspace_id == ws, any_of(dialect, contact.email, "emails")))
        # Locked in id order (PostgreSQL): concurrent batches about the same people queue, never deadlock.
        self.contacts = (select(contact.id, *(getattr(contact, c) for c in PROFILE), contact.attributes,
                                contact.last_seen_at)
                         .where(contact.workspace_id == ws, contact.id.in_(wanted))
                         .order_by(contact.id).with_for_update())
        self.companies = (select(company.id, company.external_id, company.name, company.domain, company.attributes)
                          .where(company.workspace_id == ws, any_of(dialect, company.external_id, "group_ids"))
                          .order_by(company.id).with_for_update())
        self.fields = select(CustomField.entity, CustomField.key, CustomField.type, CustomField.options).where(
            CustomField.workspace_id == ws)
        self.insert_identities = insert_ignoring_conflicts(
            session, _table(identity), ["workspace_id", "kind", "value"])
        self.insert_candidates = insert_ignoring_conflicts(
            session, _table(DuplicateCandidate), ["workspace_id", "contact_id", "other_contact_id"])
        companies = _table(Company)
        self.insert_companies = insert_ignoring_conflicts(
            session, companies, ["workspace_id", "external_id"]).returning(companies.c.id, companies.c.external_id)
        self.update_companies = update(companies).where(companies.c.id == bindparam("_id")).values(
            name=bindparam("_name"), domain=bindparam("_domain"), attributes=bindparam("_attributes"),
            updated_at=bindparam("_now"))
        contacts = _table(Contact)
        self.insert_contacts = insert_ignoring_any_conflict(session, contacts).returning(
            contacts.c.id, contacts.c.external_id, contacts.c.email)
        self.insert_contact = contacts.insert().returning(contacts.c.id)
        self.update_profiles = update(contacts).where(contacts.c.id == bindparam("_id")).values(
            attributes=bindparam("_attributes"), last_seen_at=bindparam("_last_seen_at"),
            updated_at=bindparam("_now"), **{column: bindparam(f"_{column}") for column in PROFILE})
        self.update_seen = update(contacts).where(contacts.c.id == bindparam("_id")).values(
            last_seen_at=bindparam("_last_seen_at"))
        self.release_emails = update(contacts).where(
            contacts.c.workspace_id == ws, contacts.c.id.in_(bindparam("ids", expanding=True))).values(email=None)


_STATEMENTS: dict[str, _Statements] = {}


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _statements(session: Session) -> _Statements:
    dialect = session.get_bind().dialect.name
    if dialect not in _STATEMENTS:
        _STATEMENTS[dialect] = _Statements(session)
    return _STATEMENTS[dialect]



@dataclass(eq=False, slots=True)
class CompanyDraft:
    id: int | None
    external_id: str
    name: str
    domain: str | None
    attributes: dict[str, Any]
    is_new: bool = False
    is_changed: bool = False


@dataclass(eq=False, slots=True)
class ContactDraft:
    """A contact as this batch sees it; `changed` names what changed, as the outbox fact spells it."""

    id: int | None
    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None
    company_id: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    last_seen_at: dt.datetime | None = None
    is_new: bool = False
    changed: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    is_seen_changed: bool = False
    stored_email: str | None = None
    company: CompanyDraft | None = None

    def set(self, column: str, value: Any) -> None:
        if getattr(self, column) != value:
            setattr(self, column, value)
            self.changed.add(column)

    def saw(self, at: dt.datetime) -> None:
        if self.last_seen_at is None or at > self.last_seen_at:
            self.last_seen_at = at
            self.is_seen_changed = True

    @property
    def fields(self) -> list[str]:
        """What changed, for the 'contact changed' fact."""
        names = set(self.changed)
        if self.is_new:
            names.add("created")
        if self.is_seen_changed:
            names.add("last_seen_at")
        return sorted(names)



class IdentityStore:
    """A batch's contacts, identities and companies as drafts: loaded in a few queries, saved in a few statements.

    `IdentityResolution` (contacts.identity) changes the drafts in memory in between."""

    def __init__(self, session: Session, workspace_id: int, now: dt.datetime) -> None:
        self.session = session
        self.conn = session.connection()
        self.sql = _statements(session)
        self.workspace_id = workspace_id
        self.now = now
        self.by_user: dict[str, ContactDraft] = {}
        self.by_anonymous: dict[str, ContactDraft] = {}
        self.by_email: dict[str, ContactDraft] = {}
        self.touched: dict[int, ContactDraft] = {}  # id(draft) → draft, in first-touched order
        self.companies: dict[str, CompanyDraft] = {}
        self.stitched: list[tuple[str, ContactDraft]] = []
        self._identities: list[tuple[str, str, ContactDraft]] = []
        self._conflicts: list[tuple[ContactDraft, ContactDraft]] = []
        self._fields: dict[tuple[str, str], tuple[str, list[str]]] = {}


    # ---- loading ---------------------------------------------------------------------------

    def load(self, *, user_ids: set[str], anonymous_ids: set[str], emails: set[str], group_ids: set[str],
             with_fields: bool) -> None:
        # Each query's rows are fetched whole (`.all()`): a third less time per row than iterating the result,
        # which fetches them one by one (~0.85 µs a row; a group of ingest requests reads a thousand or more).
        ws = self.workspace_id
        known: dict[tuple[str, str], int] = {}
        if user_ids or anonymous_ids:
            rows = self.conn.execute(self.sql.identities, {"ws": ws, "user_ids": list(user_ids),
                                                           "anonymous_ids": list(anonymous_ids)}).all()
            known = {(kind, value): contact_id for kind, value, contact_id in rows}
        drafts: dict[int, ContactDraft] = {}
        if known or user_ids or emails:
            rows = self.conn.execute(self.sql.contacts, {"ws": ws, "ids": list(set(known.values())),
                                                         "user_ids": list(user_ids), "emails": list(emails)}).all()
            for row in rows:
                draft = ContactDraft(row.id, row.external_id, row.email, row.phone, row.first_name, row.last_name,
                                     row.timezone, row.company_id, dict(row.attributes or {}), row.last_seen_at,
                                     stored_email=row.email)
                drafts[row.id] = draft
                if draft.external_id is not None:
                    self.by_user[draft.external_id] = draft
                if draft.email is not None:
                    self.by_email[draft.email] = draft
        for (kind, value), contact_id in known.items():
            linked = drafts.get(contact_id)
            if linked is None:
                continue
            if kind == ANONYMOUS_ID:
                self.by_anonymous[value] = linked
            else:
                self.by_user.setdefault(value, linked)
        for user_id in user_ids:  # contacts made elsewhere (REST, import) get their user_id identity now
            found = self.by_user.get(user_id)
            if found is not None and (USER_ID, user_id) not in known and found.external_id == user_id:
                self._identities.append((USER_ID, user_id, found))
        if group_ids:
            for row in self.conn.execute(self.sql.companies, {"ws": ws, "group_ids": list(group_ids)}).all():
                self.companies[row.external_id] = CompanyDraft(row.id, row.external_id, row.name, row.domain,
                                                               dict(row.attributes or {}))
        if with_fields:
            self._fields = {(entity, key): (kind, list(options or []))
                            for entity, key, kind, options in self.conn.execute(self.sql.fields, {"ws": ws})}


    # ---- saving ----------------------------------------------------------------------------

    def save(self) -> None:
        """Writes companies, contacts, identities and duplicate candidates. Afterwards every draft has its id."""
        self._save_companies()
        for contact in self.touched.values():
            if contact.company is not None and contact.company.id is not None:
                contact.company_id = contact.company.id
        self._release_moved_emails()
        self._insert_contacts([c for c in self.touched.values() if c.is_new])
        self._update_contacts([c for c in self.touched.values() if not c.is_new])
        ws, now = self.workspace_id, self.now
        identities = {(kind, value): contact for kind, value, contact in self._identities if contact.id is not None}
        if identities:
            self.conn.execute(self.sql.insert_identities, [
                {"workspace_id": ws, "kind": kind, "value": value, "contact_id": contact.id, "created_at": now}
                for (kind, value), contact in sorted(identities.items())])
        pairs = {(min(a.id, b.id), max(a.id, b.id)) for a, b in self._conflicts
                 if a.id is not None and b.id is not None and a.id != b.id}
        if pairs:
            self.conn.execute(self.sql.insert_candidates, [
                {"workspace_id": ws, "contact_id": a, "other_contact_id": b, "reason": IDENTITY_CONFLICT,
                 "score": 1.0, "status": "open", "created_at": now} for a, b in sorted(pairs)])

    def _save_companies(self) -> None:
        new = [c for c in self.companies.values() if c.is_new]
        if new:
            rows = self.conn.execute(self.sql.insert_companies, [
                {"workspace_id": self.workspace_id, "external_id": c.external_id, "name": c.name, "domain": c.domain,
                 "attributes": c.attributes, "created_at": self.now, "updated_at": self.now}
                for c in sorted(new, key=lambda c: c.external_id)])
            ids = {external_id: id_ for id_, external_id in rows}
            for company in new:
                company.id = ids.get(company.external_id)
            raced = [c for c in new if c.id is None]  # made by a concurrent request a moment ago
            if raced:
                found = dict(self.conn.execute(select(Company.external_id, Company.id).where(
                    Company.workspace_id == self.workspace_id,
                    Company.external_id.in_([c.external_id for c in raced]))).all())
                for company in raced:
                    company.id, company.is_new, company.is_changed = found.get(company.external_id), False, True
        changed = [c for c in self.companies.values() if c.is_changed and not c.is_new and c.id is not None]
        if changed:
            self.conn.execute(self.sql.update_companies, [
                {"_id": c.id, "_name": c.name, "_domain": c.domain, "_attributes": c.attributes, "_now": self.now}
                for c in changed])

    def _release_moved_emails(self) -> None:
        """An email that moves between two contacts in one batch is first taken off its old owner, so
        the unique (workspace_id, email) holds statement by statement."""
        moving = [c for c in self.touched.values() if not c.is_new and c.stored_email and c.email != c.stored_email]
        if not moving:
            return
        taken = {c.email for c in self.touched.values() if c.email}
        released = [c.id for c in moving if c.stored_email in taken]
        if released:
            self.conn.execute(self.sql.release_emails, {"ws": self.workspace_id, "ids": released})

    def _insert_contacts(self, new: list[ContactDraft]) -> None:
        if not new:
            return
        rows = self.conn.execute(self.sql.insert_contacts, [self._row(c) for c in sorted(new, key=_insert_order)])
        by_external_id: dict[str, int] = {}
        by_email: dict[str, int] = {}
        for id_, external_id, email in rows:
            if external_id is not None:
                by_external_id[external_id] = id_
            else:
                by_email[email] = id_
        for contact in new:
            contact.id = (by_external_id.get(contact.external_id) if contact.external_id is not None
                          else by_email.get(contact.email))  # type: ignore[arg-type]
        raced = [c for c in new if c.id is None]
        if raced:
            self._adopt_raced(raced)

    def _adopt_raced(self, raced: list[ContactDraft]) -> None:
        """Contacts a concurrent request created a moment ago (same userId or email): take theirs and
        apply this batch's changes to it; if only the email collided, create ours without it."""
        for contact in raced:
            key = (Contact.external_id == contact.external_id if contact.external_id is not None
                   else Contact.email == contact.email)
            row = self.conn.execute(select(Contact.id, Contact.attributes).where(
                Contact.workspace_id == self.workspace_id, key).with_for_update()).first()
            if row is None:
                contact.email = None
                contact.id = self.conn.execute(self.sql.insert_contact, self._row(contact)).scalar_one()
                continue
            contact.id, contact.is_new = row.id, False
            contact.attributes = {**(row.attributes or {}), **contact.attributes}
            contact.changed.update(("external_id", "email"))
            self._update_contacts([contact])

    def _update_contacts(self, contacts: list[ContactDraft]) -> None:
        profile = [c for c in contacts if c.changed]
        if profile:
            self.conn.execute(self.sql.update_profiles, [
                {"_id": c.id, "_attributes": c.attributes, "_last_seen_at": c.last_seen_at, "_now": self.now,
                 **{f"_{column}": getattr(c, column) for column in PROFILE}} for c in profile])
        seen = [{"_id": c.id, "_last_seen_at": c.last_seen_at} for c in contacts if not c.changed and c.is_seen_changed]
        if seen:
            self.conn.execute(self.sql.update_seen, seen)

    def _row(self, contact: ContactDraft) -> dict[str, Any]:
        row = {column: getattr(contact, column) for column in PROFILE}
        row.update(workspace_id=self.workspace_id, attributes=contact.attributes, created_at=self.now,
                   updated_at=self.now, last_seen_at=contact.last_seen_at)
        return row




def _insert_order(contact: ContactDraft) -> tuple[str, str]:
    """Concurrent batches insert new contacts in one order, so they wait on each other without deadlock."""
    return (contact.external_id or "", contact.email or "")




def contact_in_workspace(session: Session, workspace_id: int, contact_id: int) -> bool:
    """Whether the contact exists in this workspace (other domains ask before showing its data)."""
    return session.scalar(select(Contact.id).where(Contact.workspace_id == workspace_id,
                                                   Contact.id == contact_id)) is not None
