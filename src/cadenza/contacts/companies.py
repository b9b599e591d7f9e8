"""Use cases on companies (accounts): create, upsert, read, update, delete, list, their contacts.

A company's `domain` is stored normalised (lower case, no scheme, path or leading `www.`) and is unique
in a workspace, like its `external_id`, so an upsert on either finds at most one company.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from cadenza.auth import Permission, Principal, record_audit
from cadenza.contacts.errors import CompanyNotFound, DuplicateCompany, require
from cadenza.contacts.fields import load_definitions, merge_attributes
from cadenza.contacts.models import Company, Contact
from cadenza.contacts.queries import contacts_out, list_contact_rows
from cadenza.contacts.schemas import (
    CompanyCreate,
    CompanyOut,
    CompanyUpdate,
    CompanyUpsert,
    ContactFilters,
    ContactOut,
)
from cadenza.contacts.service import conflicts_as_409
from cadenza.core.clock import Clock
from cadenza.core.errors import ValidationFailed
from cadenza.core.pagination import Page, clamp_limit, id_from_cursor, next_id_cursor
from cadenza.storage import Database
from cadenza.storage.dialect import search_lower, starts_with
from cadenza.storage.outbox import contact_changed, publish_many

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+$")
CHUNK = 1000


def normalise_domain(value: str) -> str:
    """`" https://www.Acme.com/about "` → `"acme.com"`; 422 naming `domain` when it is no host name."""
    text = value.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text).split("/", 1)[0].split("?", 1)[0].split(":", 1)[0]
    text = text.removeprefix("www.").rstrip(".")
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        text = ""
    if not _HOSTNAME.match(text):
        raise ValidationFailed("domain is not a domain name like acme.com.",
                               errors=[{"field": "domain", "message": "is not a domain name like acme.com"}])
    return text


def company_out(company: Company) -> CompanyOut:
    return CompanyOut(id=company.id, name=company.name, domain=company.domain, external_id=company.external_id,
                      attributes=dict(company.attributes or {}), created_at=company.created_at,
                      updated_at=company.updated_at)


class CompanyService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # ---- reads ------------------------------------------------------------------------------

    def get_company(self, principal: Principal, company_id: int) -> CompanyOut:
        require(principal, Permission.READ)
        with self.db.read() as session:
            return company_out(_load(session, principal.workspace_id, company_id))

    def list_companies(self, principal: Principal, *, q: str | None = None, domain: str | None = None,
                       limit: int | None = None, cursor: str | None = None) -> Page[CompanyOut]:
        """Companies whose name or domain starts with `q` (and with this domain), newest first."""
        require(principal, Permission.READ)
        limit = clamp_limit(limit)
        with self.db.read() as session:
            query = _company_query(session, principal.workspace_id, q, domain)
            if cursor:
                query = query.where(Company.id < id_from_cursor(cursor))
            rows = list(session.scalars(query.limit(limit + 1)))
            next_cursor = next_id_cursor(rows, limit)
            return Page([company_out(row) for row in rows[:limit]], next_cursor)

    def list_company_contacts(self, principal: Principal, company_id: int, *, limit: int | None = None,
                              cursor: str | None = None) -> Page[ContactOut]:
        require(principal, Permission.READ)
        limit = clamp_limit(limit)
        ws = principal.workspace_id
        with self.db.read() as session:
            _load(session, ws, company_id)
            before_id = id_from_cursor(cursor) if cursor else None
            rows = list_contact_rows(session, ws, ContactFilters(company_id=company_id), before_id=before_id,
                                     limit=limit + 1)
            next_cursor = next_id_cursor(rows, limit)
            return Page(contacts_out(session, ws, rows[:limit]), next_cursor)

    # ---- changes ----------------------------------------------------------------------------

    def create_company(self, principal: Principal, data: CompanyCreate) -> CompanyOut:
        require(principal, Permission.WRITE)
        now = self.clock.now()
        with conflicts_as_409(), self.db.transaction() as session:
            company = self._insert(session, principal, data.model_dump(), now)
            return company_out(company)

    def upsert_company(self, principal: Principal, data: CompanyUpsert) -> tuple[CompanyOut, bool]:
        """Updates the company with this external_id (else this domain), or creates one. True when created."""
        require(principal, Permission.WRITE)
        if data.external_id is None and not data.domain:
            raise ValidationFailed("An upsert needs an external_id or a domain to match on.",
                                   errors=[{"field": "external_id", "message": "external_id or domain is required"}])
        now = self.clock.now()
        ws = principal.workspace_id
        with conflicts_as_409(), self.db.transaction() as session:
            domain = normalise_domain(data.domain) if data.domain else None
            existing = None
            if data.external_id is not None:
                existing = session.scalar(select(Company).where(Company.workspace_id == ws,
                                                                Company.external_id == data.external_id))
            if existing is None and domain is not None:
                existing = session.scalar(select(Company).where(Company.workspace_id == ws, Company.domain == domain))
                if (existing is not None and data.external_id is not None
                        and existing.external_id not in (None, data.external_id)):
                    raise DuplicateCompany("This domain belongs to a company with another external_id.",
                                           errors=[{"field": "domain", "message": "belongs to another company"}],
                                           company_id=existing.id)
            if existing is None:
                values = data.model_dump()
                if not values.get("name"):
                    values["name"] = domain or data.external_id or ""
                return company_out(self._insert(session, principal, values, now)), True
            self._change(session, principal, existing, data.model_dump(exclude_unset=True), now)
            return company_out(existing), False

    def update_company(self, principal: Principal, company_id: int, data: CompanyUpdate) -> CompanyOut:
        require(principal, Permission.WRITE)
        now = self.clock.now()
        with conflicts_as_409(), self.db.transaction() as session:
            company = _load(session, principal.workspace_id, company_id)
            self._change(session, principal, company, data.model_dump(exclude_unset=True), now)
            return company_out(company)

    def delete_company(self, principal: Principal, company_id: int) -> None:
        """Deletes the company; its contacts stay, unlinked (each gets a 'contact changed' fact)."""
        require(principal, Permission.WRITE)
        now = self.clock.now()
        ws = principal.workspace_id
        with self.db.transaction() as session:
            # The company's row first: a transaction linking a contact to it holds it (`lock_companies`), so this
            # waits for that one, and then unlinks its contact too; one that comes later finds no company.
            company = _load(session, ws, company_id, lock=True)
            linked = session.execute(select(Contact.id).where(Contact.workspace_id == ws,
                                                              Contact.company_id == company.id)
                                     .execution_options(yield_per=CHUNK)).scalars()
            for chunk in linked.partitions(CHUNK):
                publish_many(session, [contact_changed(ws, contact_id, fields=["company_id"], reason="api")
                                       for contact_id in chunk], now=now)
            session.execute(update(Contact).where(Contact.workspace_id == ws, Contact.company_id == company.id)
                            .values(company_id=None, updated_at=now).execution_options(synchronize_session=False))
            session.execute(delete(Company).where(Company.workspace_id == ws, Company.id == company.id))
            record_audit(session, principal, "company.deleted", at=now, target_type="company", target_id=company.id,
                         changes={"name": company.name, "domain": company.domain})

    # ---- steps ------------------------------------------------------------------------------

    def _insert(self, session: Session, principal: Principal, given: dict[str, Any], now: dt.datetime) -> Company:
        ws = principal.workspace_id
        values = _normalise(given)
        definitions = load_definitions(session, ws, "company")
        attributes = merge_attributes(definitions, {}, given.get("attributes") or {}, creating=True)
        _check_unique(session, ws, values, exclude_id=None)
        company = Company(workspace_id=ws, name=values.get("name") or "", domain=values.get("domain"),
                          external_id=values.get("external_id"), attributes=attributes, created_at=now,
                          updated_at=now)
        session.add(company)
        session.flush()
        changes = {name: [None, value] for name, value in values.items() if value is not None}
        changes.update({f"attributes.{key}": [None, value] for key, value in attributes.items()})
        record_audit(session, principal, "company.created", at=now, target_type="company", target_id=company.id,
                     changes=changes)
        return company

    def _change(self, session: Session, principal: Principal, company: Company, given: dict[str, Any],
                now: dt.datetime) -> None:
        ws = principal.workspace_id
        values = _normalise({name: given[name] for name in ("name", "domain", "external_id") if name in given})
        if "name" in values and values["name"] is None:
            raise ValidationFailed("A company needs a name.", errors=[{"field": "name", "message": "is required"}])
        changes: dict[str, Any] = {name: [getattr(company, name), value] for name, value in values.items()
                                   if getattr(company, name) != value}
        _check_unique(session, ws, {name: new for name, (_old, new) in changes.items()}, exclude_id=company.id)
        current = dict(company.attributes or {})
        if given.get("attributes"):
            definitions = load_definitions(session, ws, "company")
            attributes = merge_attributes(definitions, current, given["attributes"], creating=False)
            for key in sorted(set(current) | set(attributes)):
                if current.get(key) != attributes.get(key):
                    changes[f"attributes.{key}"] = [current.get(key), attributes.get(key)]
            company.attributes = attributes
        if not changes:
            return
        for name, value in values.items():
            setattr(company, name, value)
        company.updated_at = now
        record_audit(session, principal, "company.updated", at=now, target_type="company", target_id=company.id,
                     changes=changes)
        session.flush()


def _company_query(session: Session, workspace_id: int, q: str | None, domain: str | None) -> Select[Company]:
    query = select(Company).where(Company.workspace_id == workspace_id)
    if domain:
        try:
            query = query.where(Company.domain == normalise_domain(domain))
        except ValidationFailed:
            query = query.where(Company.domain == domain.strip().lower())
    if q and q.strip():
        text = q.strip()
        query = query.where(or_(starts_with(func.lower(Company.name), search_lower(text, session), session),
                                starts_with(Company.domain, text.lower(), session)))
    return query.order_by(Company.id.desc())


def _normalise(given: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in ("name", "domain", "external_id"):
        if name not in given:
            continue
        value = given[name]
        if isinstance(value, str):
            value = value.strip() or None
        if value is not None and name == "domain":
            value = normalise_domain(value)
        if name == "external_id" and given[name] is not None and value is None:
            raise ValidationFailed("external_id is empty.", errors=[{"field": "external_id", "message": "is empty"}])
        values[name] = value
    return values


def _check_unique(session: Session, workspace_id: int, values: dict[str, Any], exclude_id: int | None) -> None:
    for name in ("external_id", "domain"):
        value = values.get(name)
        if value is None:
            continue
        query = select(Company.id).where(Company.workspace_id == workspace_id, getattr(Company, name) == value)
        if exclude_id is not None:
            query = query.where(Company.id != exclude_id)
        existing = session.scalar(query.limit(1))
        if existing is not None:
            raise DuplicateCompany(f"A company with this {name} already exists.",
                                   errors=[{"field": name, "message": "already exists"}], company_id=existing)


def _load(session: Session, workspace_id: int, company_id: int, *, lock: bool = False) -> Company:
    query = select(Company).where(Company.workspace_id == workspace_id, Company.id == company_id)
    company = session.scalar(query.with_for_update() if lock else query)
    if company is None:
        raise CompanyNotFound(f"No company {company_id} in this workspace.")
    return company
