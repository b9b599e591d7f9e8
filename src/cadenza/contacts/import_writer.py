"""Writing one chunk of validated import rows: match, merge, bulk insert and update, tags, companies, facts.

`plan_chunk` reads (existing contacts by email and external id, their tags, companies by name) and decides
in memory, row by row in file order, what each row does; `write_chunk` then writes everything with a
handful of executemany statements. Both run inside the caller's unit of work.

Matching: a row is matched to a contact by email, else by external id; rows of the same file that match
the same contact are applied in order (a later row updates what an earlier one created). A row fills and
overwrites fields with its non-empty cells; empty cells change nothing; custom fields are merged key by
key; tags are added, never removed; a company name links the workspace's company of that name (created
when there is none). An import never changes a contact's email or external id once set, and never gives
one contact another's: a row whose email and external id point to different contacts is an error. A row
that would create a contact without a value for a required custom field is an error too.

Rows are inserted with `insert_rows` (COPY on PostgreSQL, one executemany on SQLite): contacts, tags and row
errors; then the 'contact changed' facts with `publish_many` (the same bulk path from a few facts on), in the
order of their contacts.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from cadenza.contacts.import_rows import ContactRow, RowProblem
from cadenza.contacts.models import Company, Contact, ContactTag, ImportRowError
from cadenza.storage.bulk import among, insert_rows
from cadenza.storage.dialect import insert_ignoring_conflicts, reserve_ids
from cadenza.storage.outbox import contact_changed, publish_many

_CONTACTS = cast(Table, Contact.__table__)
_COMPANIES = cast(Table, Company.__table__)
_TAGS = cast(Table, ContactTag.__table__)
_ERRORS = cast(Table, ImportRowError.__table__)
_ERROR_COLUMNS = ("workspace_id", "import_id", "line", "column", "message", "raw")
_COLUMNS = ("email", "external_id", "phone", "first_name", "last_name", "timezone", "company_id")
_PLAIN_COLUMNS = ("phone", "first_name", "last_name", "timezone")
_INSERT_COLUMNS = ("id", "workspace_id", *_COLUMNS, "attributes", "created_at", "updated_at")
_column_values = operator.itemgetter(*_COLUMNS)


@dataclass(slots=True, eq=False)
class _Target:
    """A contact as this chunk leaves it. `id` is None for a contact the chunk creates."""

    id: int | None
    values: dict[str, Any]
    attributes: dict[str, Any]
    tags: set[str]
    new_tags: list[str] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)


@dataclass
class ChunkPlan:
    targets: list[_Target]
    company_names: dict[int, str]  # placeholder id (negative) → name of a company to create
    problems: list[RowProblem]
    created: int = 0
    updated: int = 0
    skipped: int = 0

    @property
    def failed_rows(self) -> int:
        return len({problem.line for problem in self.problems})


def plan_chunk(session: Session, workspace_id: int, rows: list[ContactRow], problems: list[RowProblem], *,
               update_existing: bool, required: Mapping[str, str | None] | None = None) -> ChunkPlan:
    """Decides what each row does, reading what it needs with a few IN queries. Writes nothing.

    `required`: the required custom fields, each with the column that fills it (None: no column does)."""
    emails = {row.email for row in rows if row.email}
    external_ids = {row.external_id for row in rows if row.external_id}
    existing = _load_contacts(session, workspace_id, emails, external_ids)
    if any(row.tags for row in rows):
        _load_tags(session, workspace_id, existing)
    companies = _load_companies(session, workspace_id, {row.company for row in rows if row.company})
    plan = ChunkPlan(targets=[], company_names={}, problems=list(problems))
    by_email = {t.values["email"]: t for t in existing if t.values["email"]}
    by_external_id = {t.values["external_id"]: t for t in existing if t.values["external_id"]}
    planned: set[_Target] = set()
    for row in rows:
        company_id = _company_id(row.company, companies, plan) if row.company else None
        target = by_email.get(row.email) if row.email else None
        if target is None and row.external_id:
            target = by_external_id.get(row.external_id)
        if target is None:
            missing = [key for key in required or () if key not in row.attributes]
            if missing:
                plan.problems.extend(RowProblem(row.line, (required or {})[key], f"{key} is required for a new "
                                                f"contact", row.raw) for key in missing)
                continue
            target = _new_target(row, company_id)
            plan.targets.append(target)
            planned.add(target)
            plan.created += 1
        else:
            problem = _identity_conflict(row, target, by_external_id)
            if problem:
                plan.problems.append(problem)
                continue
            if not update_existing or not _apply(target, row, company_id):
                plan.skipped += 1
                continue
            plan.updated += 1
            if target not in planned:
                plan.targets.append(target)
                planned.add(target)
        if row.email:
            by_email[row.email] = target
        if row.external_id:
            by_external_id[row.external_id] = target
    plan.problems.sort(key=lambda problem: problem.line)
    return plan


def write_chunk(session: Session, plan: ChunkPlan, *, workspace_id: int, import_id: int,
                now: dt.datetime) -> int:
    """Writes the plan. Returns how many contacts changed (one 'contact changed' fact each)."""
    company_ids = _create_companies(session, workspace_id, plan.company_names, now)
    created = [t for t in plan.targets if t.id is None]
    changed = [t for t in plan.targets if t.id is not None and t.changed]
    for target in plan.targets:
        placeholder = target.values.get("company_id")
        if placeholder is not None and placeholder < 0:
            target.values["company_id"] = company_ids[placeholder]
    if created:
        for target, contact_id in zip(created, reserve_ids(session, _CONTACTS, len(created)), strict=True):
            target.id = contact_id
        insert_rows(session, _CONTACTS, _INSERT_COLUMNS, [
            (t.id, workspace_id, *_column_values(t.values), t.attributes, now, now) for t in created])
    if changed:
        session.execute(
            update(_CONTACTS).where(_CONTACTS.c.id == bindparam("target_id"))
            .values({**{c: bindparam(c) for c in _COLUMNS}, "attributes": bindparam("attributes"),
                     "updated_at": bindparam("updated_at")}),
            [{**t.values, "target_id": t.id, "attributes": t.attributes, "updated_at": now} for t in changed],
        )
    insert_rows(session, _TAGS, ("workspace_id", "contact_id", "tag"),
                [(workspace_id, t.id, tag) for t in created for tag in t.new_tags])
    tags = [{"workspace_id": workspace_id, "contact_id": t.id, "tag": tag} for t in changed for tag in t.new_tags]
    if tags:
        session.execute(insert_ignoring_conflicts(session, _TAGS, ["workspace_id", "contact_id", "tag"]), tags)
    insert_rows(session, _ERRORS, _ERROR_COLUMNS, [
        (workspace_id, import_id, p.line, p.column[:255] if p.column else None, p.message, p.raw)
        for p in plan.problems])
    facts = [contact_changed(workspace_id, _id(t), fields=_created_fields(t), reason="import") for t in created]
    facts.extend(contact_changed(workspace_id, _id(t), fields=list(t.changed), reason="import") for t in changed)
    publish_many(session, facts, now=now)
    return len(facts)


def _new_target(row: ContactRow, company_id: int | None) -> _Target:
    values = {"email": row.email, "external_id": row.external_id, "phone": row.phone,
              "first_name": row.first_name, "last_name": row.last_name, "timezone": row.timezone,
              "company_id": company_id}
    return _Target(None, values, dict(row.attributes), set(row.tags), list(row.tags))


def _id(target: _Target) -> int:
    assert target.id is not None, "ids are given before facts are written"
    return target.id


def _created_fields(target: _Target) -> list[str]:
    """What a new contact's 'contact changed' fact names: `created` and every field it has."""
    fields = ["created", *(name for name in _COLUMNS if target.values[name] is not None)]
    fields.extend(f"attributes.{key}" for key in target.attributes)
    if target.new_tags:
        fields.append("tags")
    return fields


def _apply(target: _Target, row: ContactRow, company_id: int | None) -> bool:
    """Lays the row's non-empty cells over the target. Returns whether anything changed."""
    values = target.values
    touched = False
    for name in _PLAIN_COLUMNS:
        value = getattr(row, name)
        if value is not None and values[name] != value:
            values[name], touched = value, True
            target.changed.add(name)
    for name, value in (("email", row.email), ("external_id", row.external_id), ("company_id", company_id)):
        if value is not None and values[name] != value:
            values[name], touched = value, True
            target.changed.add(name)
    for key, value in row.attributes.items():
        if target.attributes.get(key) != value:
            target.attributes[key], touched = value, True
            target.changed.add(f"attributes.{key}")
    for tag in row.tags:
        if tag not in target.tags:
            target.tags.add(tag)
            target.new_tags.append(tag)
            target.changed.add("tags")
            touched = True
    return touched


def _identity_conflict(row: ContactRow, target: _Target, by_external_id: dict[str, _Target]) -> RowProblem | None:
    values = target.values
    if row.external_id and values["external_id"] and values["external_id"] != row.external_id:
        return RowProblem(row.line, None, f"the contact with this email already has the external id "
                                          f"{values['external_id']!r}", row.raw)
    if row.external_id and not values["external_id"]:
        owner = by_external_id.get(row.external_id)
        if owner is not None and owner is not target:
            return RowProblem(row.line, None, "the email and the external id belong to two different contacts",
                              row.raw)
    if row.email and values["email"] and values["email"] != row.email:
        return RowProblem(row.line, None, "the contact with this external id already has another email", row.raw)
    return None


def _company_id(name: str, companies: dict[str, int], plan: ChunkPlan) -> int:
    company_id = companies.get(name)
    if company_id is None:
        company_id = -(len(plan.company_names) + 1)
        plan.company_names[company_id] = name
        companies[name] = company_id
    return company_id


def _load_contacts(session: Session, workspace_id: int, emails: set[str], external_ids: set[str]) -> list[_Target]:
    columns = [_CONTACTS.c.id, *(_CONTACTS.c[name] for name in _COLUMNS), _CONTACTS.c.attributes]
    found: dict[int, _Target] = {}
    for column, values in (("email", emails), ("external_id", external_ids)):
        if not values:
            continue
        query = select(*columns).where(_CONTACTS.c.workspace_id == workspace_id,
                                       among(session, _CONTACTS.c[column], values))
        for row in session.execute(query):
            if row.id not in found:
                found[row.id] = _Target(row.id, {name: row._mapping[name] for name in _COLUMNS},
                                        dict(row.attributes or {}), set())
    return list(found.values())


def _load_tags(session: Session, workspace_id: int, targets: Iterable[_Target]) -> None:
    by_id = {t.id: t for t in targets}
    if not by_id:
        return
    query = select(_TAGS.c.contact_id, _TAGS.c.tag).where(_TAGS.c.workspace_id == workspace_id,
                                                          among(session, _TAGS.c.contact_id, by_id))
    for contact_id, tag in session.execute(query):
        by_id[contact_id].tags.add(tag)


def _load_companies(session: Session, workspace_id: int, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    query = (select(_COMPANIES.c.name, _COMPANIES.c.id)
             .where(_COMPANIES.c.workspace_id == workspace_id, among(session, _COMPANIES.c.name, names))
             .order_by(_COMPANIES.c.id.desc()))
    return {name: company_id for name, company_id in session.execute(query)}  # the oldest of a name wins


def _create_companies(session: Session, workspace_id: int, names: dict[int, str], now: dt.datetime) -> dict[int, int]:
    if not names:
        return {}
    placeholders = list(names)
    ids = reserve_ids(session, _COMPANIES, len(placeholders))
    session.execute(insert(_COMPANIES), [
        {"id": company_id, "workspace_id": workspace_id, "name": names[p], "attributes": {}, "created_at": now,
         "updated_at": now} for p, company_id in zip(placeholders, ids, strict=True)])
    return dict(zip(placeholders, ids, strict=True))
