"""Queries several contact use cases share: the filtered list and the contact representation."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from cadenza.contacts.field_types import FieldType
from cadenza.contacts.fields import filter_value, load_definitions
from cadenza.contacts.models import Company, Contact, ContactTag
from cadenza.contacts.normalize import InvalidValue, normalise_email
from cadenza.contacts.schemas import CompanySummary, ContactFilters, ContactOut
from cadenza.core.clock import as_utc
from cadenza.core.errors import ValidationFailed
from cadenza.storage.bulk import among
from cadenza.storage.dialect import json_contains, newest_first, search_lower, starts_with

ATTRIBUTE_FILTER_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
# How many of the newest contact ids the SQLite plan walks before it sorts the matches instead.
WALK_WINDOW = 5_000


def normalise_tag(tag: str, field: str = "tags") -> str:
    """Tags are trimmed; empty or over 100 characters is a 422."""
    cleaned = tag.strip()
    if not cleaned:
        raise ValidationFailed(f"{field}: a tag cannot be empty.", errors=[{"field": field, "message": "is empty"}])
    if len(cleaned) > 100:
        raise ValidationFailed(f"{field}: a tag has at most 100 characters.",
                               errors=[{"field": field, "message": "is longer than 100 characters"}])
    return cleaned


# The columns a ContactOut shows: read as plain rows (no ORM identity map) on the list's hot path.
OUT_COLUMNS = (Contact.id, Contact.email, Contact.phone, Contact.first_name, Contact.last_name, Contact.external_id,
               Contact.timezone, Contact.company_id, Contact.attributes, Contact.created_at, Contact.updated_at,
               Contact.last_seen_at)


def list_contact_rows(session: Session, workspace_id: int, filters: ContactFilters, *, before_id: int | None,
                      limit: int) -> list[Any]:
    """Up to `limit` contacts (OUT_COLUMNS rows) of the workspace matching every filter, newest (highest id)
    first, below `before_id` (the keyset cursor).

    With a tag, the query walks the (workspace_id, tag, contact_id) index backwards and joins the contacts,
    so a page costs ~limit index steps whether the tag is rare or common; email and company have their
    own ordered indexes too. Prefix search and date ranges are planned by `newest_first`.
    """
    query = select(*OUT_COLUMNS).where(Contact.workspace_id == workspace_id)
    order_key: Any = Contact.id
    range_filtered = False
    if filters.email is not None:
        query = query.where(Contact.email == _email_key(filters.email))
    if filters.q is not None and filters.q.strip():
        query = query.where(_search(session, filters.q.strip()))
        range_filtered = True
    if filters.tag is not None:
        query = query.join(ContactTag, and_(ContactTag.workspace_id == workspace_id,
                                            ContactTag.tag == filters.tag.strip(), ContactTag.contact_id == Contact.id))
        order_key = ContactTag.contact_id
    if filters.company_id is not None:
        query = query.where(Contact.company_id == filters.company_id)
    for bound, condition in ((filters.created_after, lambda at: Contact.created_at > at),
                             (filters.created_before, lambda at: Contact.created_at < at),
                             (filters.updated_after, lambda at: Contact.updated_at > at)):
        if bound is not None:
            query = query.where(condition(as_utc(bound)))
            range_filtered = True
    if filters.attributes:
        query = query.where(*_attribute_conditions(session, workspace_id, filters.attributes))
    if before_id is not None:
        query = query.where(order_key < before_id)
    direct = filters.email is not None or filters.tag is not None or filters.company_id is not None
    top = None
    if range_filtered and not direct:
        top = before_id - 1 if before_id is not None else session.scalar(
            select(func.max(Contact.id)).where(Contact.workspace_id == workspace_id))
    return newest_first(session, query, order_key=order_key, order_index="ix_contacts_workspace_id_id",
                        table=Contact.__table__, top=top, limit=limit, window=WALK_WINDOW,
                        filtered_by_index=range_filtered and not direct)


def _attribute_conditions(session: Session, workspace_id: int, attributes: dict[str, str]) -> list[Any]:
    definitions = load_definitions(session, workspace_id, "contact")
    conditions = []
    for key, raw in sorted(attributes.items()):
        if not ATTRIBUTE_FILTER_KEY.match(key):
            raise ValidationFailed(f"attr.{key} is not a field key.",
                                   errors=[{"field": f"attr.{key}", "message": "is not a field key"}])
        definition = definitions.get(key)
        value = filter_value(definition, key, raw)
        in_list = definition is not None and definition.type is FieldType.LIST
        conditions.append(json_contains(Contact.attributes, key, value, session, in_list=in_list))
    return conditions


def _email_key(value: str) -> str:
    try:
        return normalise_email(value)
    except InvalidValue:
        return value.strip().lower()


def _search(session: Session, text: str) -> Any:
    """A prefix of the email, first or last name (case-insensitive), phone or external id (as typed)."""
    lowered = search_lower(text, session)
    terms = [
        starts_with(Contact.email, text.lower(), session),
        starts_with(Contact.first_name_lower, lowered, session),
        starts_with(Contact.last_name_lower, lowered, session),
        starts_with(Contact.external_id, text, session),
    ]
    digits = re.sub(r"[\s().\-]", "", text)
    if re.fullmatch(r"\+?\d{2,}", digits):
        terms.append(starts_with(Contact.phone, digits if digits.startswith("+") else "+" + digits, session))
    return or_(*terms)


def contacts_out(session: Session, workspace_id: int, contacts: Sequence[Any]) -> list[ContactOut]:
    """The API representation of contacts (Contact objects or OUT_COLUMNS rows), with their tags and
    company, in two queries for the lot."""
    if not contacts:
        return []
    ids = [c.id for c in contacts]
    tags: dict[int, list[str]] = defaultdict(list)
    connection = session.connection()  # Core rows: no ORM layer on the list's hot path
    for contact_id, tag in connection.execute(
        select(ContactTag.contact_id, ContactTag.tag)
        .where(ContactTag.workspace_id == workspace_id, among(session, ContactTag.contact_id, ids))
        .order_by(ContactTag.contact_id, ContactTag.tag)
    ):
        tags[contact_id].append(tag)
    company_ids = {c.company_id for c in contacts if c.company_id is not None}
    companies: dict[int, str] = {}
    if company_ids:
        companies = {company_id: name for company_id, name in connection.execute(select(Company.id, Company.name).where(
            Company.workspace_id == workspace_id, among(session, Company.id, company_ids)))}
    return [contact_out(c, tags.get(c.id, []), companies) for c in contacts]


def contact_out(contact: Any, tags: list[str], companies: dict[int, str]) -> ContactOut:
    company = None
    if contact.company_id is not None and contact.company_id in companies:
        company = CompanySummary(id=contact.company_id, name=companies[contact.company_id])
    return ContactOut(
        id=contact.id, email=contact.email, phone=contact.phone, first_name=contact.first_name,
        last_name=contact.last_name, external_id=contact.external_id, timezone=contact.timezone,
        company_id=contact.company_id, company=company, tags=tags, attributes=dict(contact.attributes or {}),
        created_at=contact.created_at, updated_at=contact.updated_at, last_seen_at=contact.last_seen_at,
    )


def lock_companies(session: Session, workspace_id: int, ids: Collection[int]) -> set[int]:
    """Those of `ids` that are companies of the workspace, each held (`FOR KEY SHARE` on PostgreSQL; SQLite has one
    writer) until the transaction ends: a contact linked to one meanwhile cannot outlive it, as `delete_company`
    takes the company's row before it unlinks its contacts (contacts have no foreign key to do this; see Contact)."""
    if not ids:
        return set()
    query = (select(Company.id).where(Company.workspace_id == workspace_id, Company.id.in_(list(ids)))
             .order_by(Company.id).with_for_update(key_share=True))
    return set(session.scalars(query))
