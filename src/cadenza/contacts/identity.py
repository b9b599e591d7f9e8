"""Identity resolution: which contact a Segment call is about, decided for a whole batch at once.

The rules (DESIGN.md §6):

* a `userId` resolves to the contact with that `external_id` (or a former userId recorded by `alias`);
  an unknown userId creates the contact, with a `user_id` identity;
* an `anonymousId` alone resolves only when it is already linked to a contact: no anonymous contact is
  ever created (an identify that carries a valid email is not anonymous: it resolves by that email);
* a call carrying both links the anonymousId to the userId's contact, and that anonymousId's earlier
  events follow (the caller re-points them: see `stitched`);
* two contacts that are each already identified are never joined here: a call that would join them, or
  an identify whose email another contact owns, records a `DuplicateCandidate(reason="identity_conflict")`
  for a person to review, and the contacts stay as they are.

Use: `load` the batch's identifiers (a few IN queries, contacts locked in id order on PostgreSQL),
resolve each message in order in memory (`contact_for`, `alias`, `apply_traits`, `join_company`), then
`save` writes every change in a handful of statements. The caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, bindparam, select, union, union_all, update
from sqlalchemy.orm import Session

from cadenza.contacts.field_types import coerce
from cadenza.contacts.models import Company, Contact, ContactIdentity, CustomField, DuplicateCandidate
from cadenza.contacts.normalize import InvalidValue, clean_email, clean_phone_number
from cadenza.storage.bulk import any_of
from cadenza.storage.dialect import insert_ignoring_any_conflict, insert_ignoring_conflicts

USER_ID = "user_id"
ANONYMOUS_ID = "anonymous_id"
IDENTITY_CONFLICT = "identity_conflict"
_PROFILE = ("external_id", "email", "phone", "first_name", "last_name", "timezone", "company_id")
_NAME_LIMIT = 200
_FIRST_NAME_KEYS = ("firstName", "first_name")
_LAST_NAME_KEYS = ("lastName", "last_name")
_STANDARD_TRAITS = frozenset({"email", "phone", "name", "timezone", *_FIRST_NAME_KEYS, *_LAST_NAME_KEYS})
Problem = dict[str, str]


@functools.lru_cache(maxsize=16384)
def email_or_none(raw: str) -> str | None:
    """The normalised address, or None when `raw` is not one. Cached: a batch repeats addresses."""
    try:
        return clean_email(raw)
    except InvalidValue:
        return None


@functools.lru_cache(maxsize=1024)
def _is_timezone(name: str) -> bool:
    if not name or len(name) > 64:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        return False
    return True


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
        self.contacts = (select(contact.id, *(getattr(contact, c) for c in _PROFILE), contact.attributes,
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
            updated_at=bindparam("_now"), **{column: bindparam(f"_{column}") for column in _PROFILE})
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


class IdentityResolution:
    """The contacts, identities and companies of one batch, resolved in memory and saved together."""

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
        ws = self.workspace_id
        known: dict[tuple[str, str], int] = {}
        if user_ids or anonymous_ids:
            rows = self.conn.execute(self.sql.identities, {"ws": ws, "user_ids": list(user_ids),
                                                           "anonymous_ids": list(anonymous_ids)})
            known = {(kind, value): contact_id for kind, value, contact_id in rows}
        drafts: dict[int, ContactDraft] = {}
        if known or user_ids or emails:
            rows = self.conn.execute(self.sql.contacts, {"ws": ws, "ids": list(set(known.values())),
                                                         "user_ids": list(user_ids), "emails": list(emails)})
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
            for row in self.conn.execute(self.sql.companies, {"ws": ws, "group_ids": list(group_ids)}):
                self.companies[row.external_id] = CompanyDraft(row.id, row.external_id, row.name, row.domain,
                                                               dict(row.attributes or {}))
        if with_fields:
            self._fields = {(entity, key): (kind, list(options or []))
                            for entity, key, kind, options in self.conn.execute(self.sql.fields, {"ws": ws})}

    # ---- resolving -------------------------------------------------------------------------

    def contact_for(self, user_id: str | None, anonymous_id: str | None,
                    email: str | None = None) -> ContactDraft | None:
        """The contact a call is about (created when its userId is new), linking its anonymousId to it.

        `email` is a valid, normalised email an identify carries: it finds (or makes) the contact of an
        identify that has no userId, and an unknown userId adopts the contact that owns it when that
        contact has no userId of its own yet.
        """
        contact: ContactDraft | None = None
        if user_id is not None:
            contact = self.by_user.get(user_id) or self._adopt_or_create(user_id, anonymous_id, email)
        elif anonymous_id is not None:
            contact = self.by_anonymous.get(anonymous_id)
            if contact is None and email is not None:
                contact = self.by_email.get(email) or self._create(email=email)
        if contact is not None and anonymous_id is not None:
            self._link_anonymous(anonymous_id, contact)
        return contact

    def alias(self, previous_id: str, user_id: str) -> ContactDraft:
        """`previousId` (an anonymousId or a former userId) is the same person as `userId`."""
        target = self.by_user.get(user_id)
        previous = self.by_user.get(previous_id) or self.by_anonymous.get(previous_id)
        if previous is None:
            target = target or self._adopt_or_create(user_id, None, None)
            self._link_anonymous(previous_id, target)
            self._link_user(previous_id, target)
            return target
        if target is None:
            self._link_user(user_id, previous)
            if previous.external_id is None:
                previous.set("external_id", user_id)
            return previous
        if target is not previous:
            self._conflict(target, previous)
        return target

    def _adopt_or_create(self, user_id: str, anonymous_id: str | None, email: str | None) -> ContactDraft:
        """An unknown userId: the contact its anonymousId or email already found, if that one has no
        userId yet (giving a known contact its userId joins no two contacts), else a new contact."""
        for candidate in (self.by_anonymous.get(anonymous_id) if anonymous_id else None,
                          self.by_email.get(email) if email else None):
            if candidate is not None and candidate.external_id is None:
                candidate.set("external_id", user_id)
                self._link_user(user_id, candidate)
                return candidate
        contact = self._create(external_id=user_id)
        self._link_user(user_id, contact)
        return contact

    def _create(self, *, external_id: str | None = None, email: str | None = None) -> ContactDraft:
        contact = ContactDraft(None, external_id=external_id, email=email, is_new=True)
        contact.changed.update(name for name, value in (("external_id", external_id), ("email", email)) if value)
        if email is not None:
            self.by_email[email] = contact
        self.touch(contact)
        return contact

    def _link_user(self, user_id: str, contact: ContactDraft) -> None:
        self.by_user[user_id] = contact
        self._identities.append((USER_ID, user_id, contact))

    def _link_anonymous(self, anonymous_id: str, contact: ContactDraft) -> None:
        linked = self.by_anonymous.get(anonymous_id)
        if linked is None:
            self.by_anonymous[anonymous_id] = contact
            self._identities.append((ANONYMOUS_ID, anonymous_id, contact))
            self.stitched.append((anonymous_id, contact))
        elif linked is not contact:
            self._conflict(contact, linked)

    def _conflict(self, contact: ContactDraft, other: ContactDraft) -> None:
        self._conflicts.append((contact, other))

    def touch(self, contact: ContactDraft) -> ContactDraft:
        self.touched.setdefault(id(contact), contact)
        return contact

    # ---- traits ----------------------------------------------------------------------------

    def apply_traits(self, contact: ContactDraft, traits: dict[str, Any],
                     timezone: Any = None) -> list[Problem]:
        """Identify traits onto the contact. A value that cannot be stored is skipped and reported."""
        self.touch(contact)
        problems: list[Problem] = []
        for key, value in traits.items():
            if key in _STANDARD_TRAITS or value is None:
                continue
            self._set_attribute(contact, "contact", key, value, problems)
        if isinstance(traits.get("email"), str):
            self._set_email(contact, traits["email"], problems)
        if traits.get("phone") is not None:
            self._set_phone(contact, traits["phone"], problems)
        self._set_names(contact, traits)
        zone = traits.get("timezone") or timezone
        if zone is not None:
            if isinstance(zone, str) and _is_timezone(zone):
                contact.set("timezone", zone)
            else:
                problems.append({"field": "traits.timezone", "message": "is not an IANA time zone like Europe/Paris"})
        return problems

    def _set_email(self, contact: ContactDraft, raw: str, problems: list[Problem]) -> None:
        email = email_or_none(raw)
        if email is None:
            self._set_attribute(contact, "contact", "email", raw, problems)
            problems.append({"field": "traits.email", "message": "is not a valid email address; kept in "
                                                                   "attributes.email"})
            return
        owner = self.by_email.get(email)
        if owner is contact:
            return
        if owner is not None:
            self._conflict(contact, owner)
            return
        if contact.email is not None and self.by_email.get(contact.email) is contact:
            del self.by_email[contact.email]
        self.by_email[email] = contact
        contact.set("email", email)

    def _set_phone(self, contact: ContactDraft, raw: Any, problems: list[Problem]) -> None:
        try:
            contact.set("phone", clean_phone_number(str(raw)))
        except InvalidValue as error:
            self._set_attribute(contact, "contact", "phone", raw, problems)
            problems.append({"field": "traits.phone", "message": f"{error}; kept in attributes.phone"})

    @staticmethod
    def _set_names(contact: ContactDraft, traits: dict[str, Any]) -> None:
        first = next((traits[k] for k in _FIRST_NAME_KEYS if isinstance(traits.get(k), str)), None)
        last = next((traits[k] for k in _LAST_NAME_KEYS if isinstance(traits.get(k), str)), None)
        full = traits.get("name")
        if first is None and last is None and isinstance(full, str) and full.strip():
            first, _, last = full.strip().partition(" ")
        if first is not None and first.strip():
            contact.set("first_name", first.strip()[:_NAME_LIMIT])
        if last is not None and last.strip():
            contact.set("last_name", last.strip()[:_NAME_LIMIT])

    def _set_attribute(self, target: ContactDraft | CompanyDraft, entity: str, key: str, value: Any,
                       problems: list[Problem]) -> None:
        definition = self._fields.get((entity, key))
        if definition is not None:
            try:
                value = coerce(definition[0], value, definition[1] or None)
            except InvalidValue as error:
                problems.append({"field": f"traits.{key}", "message": str(error)})
                return
            if value is None:
                return
        if target.attributes.get(key, _MISSING) != value:
            target.attributes[key] = value
            if isinstance(target, ContactDraft):
                target.changed.add(f"attributes.{key}")
            else:
                target.is_changed = True

    # ---- companies (Segment group) ---------------------------------------------------------

    def join_company(self, contact: ContactDraft | None, group_id: str, traits: dict[str, Any]) -> list[Problem]:
        """Upserts the company `groupId` names, with its traits, and makes it the contact's company."""
        problems: list[Problem] = []
        company = self.companies.get(group_id)
        if company is None:
            name = traits.get("name")
            company = CompanyDraft(None, group_id, name[:255] if isinstance(name, str) and name else group_id[:255],
                                   None, {}, is_new=True)
            self.companies[group_id] = company
        for key, value in traits.items():
            if key == "name":
                if isinstance(value, str) and value.strip() and value.strip()[:255] != company.name:
                    company.name, company.is_changed = value.strip()[:255], True
            elif key in ("domain", "website"):
                domain = _domain(value)
                if domain is None:
                    problems.append({"field": f"traits.{key}", "message": "is not a domain or web address"})
                elif domain != company.domain and (key == "domain" or "domain" not in traits):
                    company.domain, company.is_changed = domain, True
            elif value is not None:
                self._set_attribute(company, "company", key, value, problems)
        if contact is not None:
            self.touch(contact)
            if contact.company is not company and (company.id is None or contact.company_id != company.id):
                contact.company = company
                contact.changed.add("company_id")
        return problems

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
                 **{f"_{column}": getattr(c, column) for column in _PROFILE}} for c in profile])
        seen = [{"_id": c.id, "_last_seen_at": c.last_seen_at} for c in contacts if not c.changed and c.is_seen_changed]
        if seen:
            self.conn.execute(self.sql.update_seen, seen)

    def _row(self, contact: ContactDraft) -> dict[str, Any]:
        row = {column: getattr(contact, column) for column in _PROFILE}
        row.update(workspace_id=self.workspace_id, attributes=contact.attributes, created_at=self.now,
                   updated_at=self.now, last_seen_at=contact.last_seen_at)
        return row


class _Missing:
    pass


_MISSING = _Missing()


def _insert_order(contact: ContactDraft) -> tuple[str, str]:
    """Concurrent batches insert new contacts in one order, so they wait on each other without deadlock."""
    return (contact.external_id or "", contact.email or "")


def _domain(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    try:
        host = urlsplit(text if "//" in text else f"//{text}").hostname
    except ValueError:  # e.g. a broken IPv6 literal
        return None
    if not host or "." not in host or len(host) > 255:
        return None
    return host.removeprefix("www.")


def contact_in_workspace(session: Session, workspace_id: int, contact_id: int) -> bool:
    """Whether the contact exists in this workspace (other domains ask before showing its data)."""
    return session.scalar(select(Contact.id).where(Contact.workspace_id == workspace_id,
                                                   Contact.id == contact_id)) is not None
