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
errors; then the 'contact changed' facts with `publish_prepared` (the same bulk path), in the
order of their contacts.

On SQLite, chunks arrive staged (`stage_rows`: the valid rows in a small SQLite database, made by the worker
processes). `plan_staged_chunk` loads the stage into the session and leaves there the rows that create a contact
alone (no other row of the chunk and no contact has their email or external id), which `write_chunk` inserts
with INSERT … SELECT: at 20,000 rows a transaction that halved SQLite's cost per row (12.8 against 24.1 µs) and
spends it in C without the GIL. Every other row goes through `plan_chunk` as above.

Most rows of an import create a contact that no other row of the chunk touches, so those stay the validated row
tuple they came as (`RowValues`) and go to the database from it: no per-row objects beyond the rows to write. The
worker processes that validate rows also make each one ready to write (`ready_to_write`): its attributes' JSON,
and the JSON of its 'contact changed' fact after the contact's id (the one `contact_changed` gives, from a
template per set of fields), so that the writer only puts the pieces together. A row that a later row of the
chunk matches becomes a `_Target` like an existing contact, and follows the general path; both write the same
rows (tests compare them).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from cadenza.contacts.import_rows import RowProblem, RowValues
from cadenza.contacts.models import Company, Contact, ContactTag, ImportRowError
from cadenza.storage.bulk import among, build_stage, clear_stage, driver_value, insert_rows, load_stage, read_stage
from cadenza.storage.database import STAGE, json_dumps, json_loads
from cadenza.storage.dialect import insert_ignoring_conflicts, reserve_ids
from cadenza.storage.outbox import (
    CONTACT_CHANGED,
    contact_changed,
    fact_stamp,
    publish_prepared,
    publish_selected,
)

_CONTACTS = cast(Table, Contact.__table__)
_COMPANIES = cast(Table, Company.__table__)
_TAGS = cast(Table, ContactTag.__table__)
_ERRORS = cast(Table, ImportRowError.__table__)
_ERROR_COLUMNS = ("workspace_id", "import_id", "line", "column", "message", "raw")
_COLUMNS = ("email", "external_id", "phone", "first_name", "last_name", "timezone", "company_id")
_INSERT_COLUMNS = ("id", "workspace_id", *_COLUMNS, "attributes", "created_at", "updated_at")
# Where a value sits in a validated row (`RowValues`: line, email … timezone, company, tags, attributes).
_LINE, _EMAIL, _EXTERNAL_ID, _COMPANY, _TAG_LIST, _ATTRIBUTES = 0, 1, 2, 7, 8, 9
# The columns a row sets as they are, with their place in the row.
_PLAIN_COLUMNS = (("phone", 3), ("first_name", 4), ("last_name", 5), ("timezone", 6))
# A row made ready to write (`ready_to_write`) has its attributes as JSON, then its fact's JSON after the id.
_ATTRIBUTES_JSON, _FACT_TAIL = 9, 10
_FACT_TAILS_MAX = 4_096  # distinct field sets remembered (a file has a handful)


@dataclass(slots=True, eq=False)
class _Target:
    """A contact as this chunk leaves it. `id` is None for a contact the chunk creates."""

    id: int | None
    values: dict[str, Any]
    attributes: dict[str, Any]
    tags: set[str]
    new_tags: list[str] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class StagedContacts:
    """The staged rows (`plan_staged_chunk`) that create a contact alone: how many, how many places the chunk
    has (each contact the chunk creates has the chunk's first id plus the place of the row that creates it, so
    ids follow the file as `plan_chunk`'s do), and the id of each company they name (negative: a placeholder for
    a company the chunk creates)."""

    rows: int
    places: int
    company_ids: dict[str, int]
    new_places: list[int]  # the place of the row that creates each of the plan's `new_contacts`
    taken: list[int]  # the places of rows alone in the chunk whose email or external id a contact has


@dataclass
class ChunkPlan:
    # The contacts to create, in file order: the row that creates one, or a _Target when a later row changed it.
    new_contacts: list[RowValues | _Target] = field(default_factory=list)
    new_company_ids: list[int | None] = field(default_factory=list)  # of each new contact given as its row
    changed_contacts: list[_Target] = field(default_factory=list)  # existing ones, in the order first changed
    company_names: dict[int, str] = field(default_factory=dict)  # placeholder id (negative) → name to create
    problems: list[RowProblem] = field(default_factory=list)
    emails: set[str] = field(default_factory=set)  # that the chunk's rows name
    external_ids: set[str] = field(default_factory=set)
    staged: StagedContacts | None = None  # rows left in the session's stage, written there by SQL (SQLite)
    created_by: list[int] = field(default_factory=list)  # the index of the row that creates each new contact
    created: int = 0
    updated: int = 0
    skipped: int = 0

    @property
    def failed_rows(self) -> int:
        return len({problem.line for problem in self.problems})


@dataclass(frozen=True, slots=True)
class ChunkClaims:
    """What writing a chunk changes that planning the next chunk reads: the emails and external ids of every
    contact the chunk creates, changes or names in a row, and the names of the companies it creates. A next
    chunk whose rows name none of them plans the same on the data before this chunk commits as after it."""

    contact_keys: frozenset[str]
    company_names: frozenset[str]

    @classmethod
    def of(cls, plan: ChunkPlan) -> ChunkClaims:
        keys = plan.emails | plan.external_ids
        for target in (*plan.changed_contacts, *(t for t in plan.new_contacts if isinstance(t, _Target))):
            keys.update(value for value in (target.values["email"], target.values["external_id"]) if value)
        return cls(frozenset(keys), frozenset(plan.company_names.values()))

    def named_by(self, rows: Sequence[RowValues]) -> bool:
        """Whether any of the rows names one of these contacts (by email or external id) or companies."""
        keys, names = self.contact_keys, self.company_names
        return any((row[_EMAIL] in keys) or (row[_EXTERNAL_ID] in keys) or (row[_COMPANY] in names) for row in rows)


def plan_chunk(session: Session, workspace_id: int, rows: Sequence[RowValues], raws: Sequence[str],
               problems: list[RowProblem], *, update_existing: bool,
               required: Mapping[str, str | None] | None = None) -> ChunkPlan:
    """Decides what each row (with its raw text, for the error report) does, reading what it needs with a few IN
    queries. Writes nothing.

    `required`: the required custom fields, each with the column that fills it (None: no column does)."""
    emails = {row[_EMAIL] for row in rows if row[_EMAIL]}
    external_ids = {row[_EXTERNAL_ID] for row in rows if row[_EXTERNAL_ID]}
    existing = _load_contacts(session, workspace_id, emails, external_ids)
    if any(row[_TAG_LIST] for row in rows):
        _load_tags(session, workspace_id, existing)
    companies = _load_companies(session, workspace_id, {row[_COMPANY] for row in rows if row[_COMPANY]})
    plan = ChunkPlan(problems=list(problems), emails=emails, external_ids=external_ids)
    # email / external id → the contact that has it: a _Target, or the index of a new contact in the plan
    by_email: dict[str, _Target | int] = {t.values["email"]: t for t in existing if t.values["email"]}
    by_external_id: dict[str, _Target | int] = {t.values["external_id"]: t for t in existing
                                               if t.values["external_id"]}
    changed: set[_Target] = set()
    new_contacts, new_company_ids = plan.new_contacts, plan.new_company_ids
    for index, (row, raw) in enumerate(zip(rows, raws, strict=True)):
        email, external_id, company = row[_EMAIL], row[_EXTERNAL_ID], row[_COMPANY]
        found = by_email.get(email) if email else None
        if found is None and external_id:
            found = by_external_id.get(external_id)
        if found is None:
            if required and _missing_required(row, raw, required, plan):
                continue
            company_id = _company_id(company, companies, plan) if company else None
            if email:
                by_email[email] = len(new_contacts)
            if external_id:
                by_external_id[external_id] = len(new_contacts)
            new_contacts.append(row)
            new_company_ids.append(company_id)
            plan.created_by.append(index)
            plan.created += 1
            continue
        target = _resolve(found, plan)
        problem = _identity_conflict(row, raw, target, by_external_id, plan)
        if problem:
            plan.problems.append(problem)
            continue
        company_id = _company_id(company, companies, plan) if company else None  # a failed row creates none
        if not update_existing or not _apply(target, row, company_id):
            plan.skipped += 1
            continue
        plan.updated += 1
        if target.id is not None and target not in changed:
            changed.add(target)
            plan.changed_contacts.append(target)
        if email:
            by_email[email] = target
        if external_id:
            by_external_id[external_id] = target
    plan.problems.sort(key=lambda problem: problem.line)
    return plan


# A chunk's valid rows, ready to write, as `stage_rows` stages them: each with its place in the chunk (`seq`).
# The facts' tails (`_created_tail`) are few per file and long: each is staged once, in `tails`.
_STAGED, _TAILS = "staged", "tails"
_STAGED_COLUMNS = ("line", "email", "external_id", "phone", "first_name", "last_name", "timezone", "company",
                   "tags", "attributes", "tail", "alone")
_READY = ("s.seq, s.line, s.email, s.external_id, s.phone, s.first_name, s.last_name, s.timezone, s.company, s.tags, "
          "s.attributes, t.text")
_WITH_TAILS = "{0}.{1} AS s JOIN {0}.{2} AS t ON t.seq = s.tail"


def stage_rows(rows: Sequence[tuple[int, RowValues]], required: Collection[str]) -> bytes:
    """A chunk's valid rows, each with its place in the chunk, made ready to write (as `ready_to_write`) and
    staged (`storage.bulk.build_stage`): what a worker process sends. A row is marked `alone` when no other row
    of the chunk names its email or external id and it has every `required` custom field: unless a contact has
    its email or external id already, it creates a contact that nothing else in the chunk touches."""
    emails = Counter(row[_EMAIL] for _, row in rows if row[_EMAIL])
    external_ids = Counter(row[_EXTERNAL_ID] for _, row in rows if row[_EXTERNAL_ID])
    tails: dict[str, int] = {}
    staged: list[tuple[Any, ...]] = []
    add = staged.append
    for seq, row in rows:  # one tuple per row: this runs for every row of a file
        line, email, external_id, phone, first_name, last_name, timezone, company, tags, attributes = row
        alone = ((not email or emails[email] == 1) and (not external_id or external_ids[external_id] == 1)
                 and (not required or all(key in attributes for key in required)))
        tail = _created_tail(row)
        tail_id = tails.get(tail)
        if tail_id is None:
            tail_id = tails[tail] = len(tails)
        add((seq, line, email, external_id, phone, first_name, last_name, timezone, company,
             json_dumps(tags) if tags else None, json_dumps(attributes), tail_id, alone))
    return build_stage({_STAGED: (_STAGED_COLUMNS, staged),
                        _TAILS: (("text",), [(tail_id, tail) for tail, tail_id in tails.items()])})


def staged_rows(stage: bytes) -> list[tuple[int, RowValues]]:
    """The ready rows of a staged chunk (`stage_rows`), each with its place in the chunk, in order."""
    return [_ready(row) for row in read_stage(
        stage, f"SELECT {_READY} FROM {_WITH_TAILS.format('main', _STAGED, _TAILS)} ORDER BY s.seq")]


def _ready(staged: Sequence[Any]) -> tuple[int, RowValues]:
    tags = staged[9]
    return staged[0], (*staged[1:9], json_loads(tags) if tags else [], staged[10], staged[11])


def plan_staged_chunk(session: Session, workspace_id: int, stage: bytes, raws: Sequence[str],
                      problems: list[RowProblem], *, update_existing: bool,
                      required: Mapping[str, str | None] | None = None) -> ChunkPlan:
    """`plan_chunk` for a staged chunk (`stage_rows`; `raws`: the text of each of the chunk's places), on SQLite.
    The stage is loaded into the session, and the rows that create a contact alone, when no contact has their
    email or external id, stay there: `write_chunk` inserts them with INSERT … SELECT (no row of them crosses
    Python). `plan_chunk` plans the others. The result is what `plan_chunk` would plan for all the rows (a test
    compares them). The stage is only read: SQLite 3.40 served stale pages of a loaded schema that had been
    written to, after the next load."""
    load_stage(session, stage)
    matched = "SELECT 1 FROM contacts c WHERE c.workspace_id = :workspace_id AND c.{0} = s.{0}"
    taken = list(session.scalars(text(
        f"SELECT s.seq FROM {STAGE}.{_STAGED} AS s WHERE s.alone AND "
        f"(EXISTS ({matched.format('email')}) OR EXISTS ({matched.format('external_id')}))"),
        {"workspace_id": workspace_id}))
    values = {"taken": json_dumps(taken)}
    others = [_ready(row) for row in session.execute(text(
        f"SELECT {_READY} FROM {_WITH_TAILS.format(STAGE, _STAGED, _TAILS)} WHERE NOT ({_ALONE}) ORDER BY s.seq"),
        values)]
    plan = plan_chunk(session, workspace_id, [row for _, row in others], [raws[seq] for seq, _ in others],
                      problems, update_existing=update_existing, required=required)
    alone = session.scalar(text(f"SELECT count(*) FROM {STAGE}.{_STAGED} AS s WHERE {_ALONE}"), values) or 0
    names = set(session.scalars(text(
        f"SELECT DISTINCT s.company FROM {STAGE}.{_STAGED} AS s WHERE {_ALONE} AND s.company IS NOT NULL"), values))
    planned = {name: placeholder for placeholder, name in plan.company_names.items()}
    companies = {**_load_companies(session, workspace_id, names - planned.keys()), **planned}
    plan.staged = StagedContacts(alone, len(raws), {name: _company_id(name, companies, plan) for name in names},
                                 [others[index][0] for index in plan.created_by], taken)
    plan.created += alone
    return plan


# The staged rows `_write_staged` inserts: alone, and not taken (a contact has their email or external id).
_ALONE = "s.alone AND s.seq NOT IN (SELECT value FROM json_each(:taken))"


def _write_staged(session: Session, staged: StagedContacts, company_ids: Mapping[int, int], workspace_id: int,
                  stamp: Any, fact_at: Any) -> int:
    """Inserts the contacts, tags and facts of the rows left in the stage (`plan_staged_chunk`). Returns the
    chunk's first contact id."""
    session.execute(text("CREATE TEMP TABLE IF NOT EXISTS import_companies (name TEXT PRIMARY KEY, id INTEGER)"))
    session.execute(text("DELETE FROM temp.import_companies"))
    if staged.company_ids:  # one statement (thousands of names a chunk: an executemany cost ~2 µs a row)
        session.execute(text("INSERT INTO temp.import_companies (name, id) SELECT key, value FROM json_each(:ids)"),
                        {"ids": json_dumps({name: company_ids.get(company_id, company_id)
                                            for name, company_id in staged.company_ids.items()})})
    first_id = reserve_ids(session, _CONTACTS, staged.places)[0]
    values = {"workspace_id": workspace_id, "first_id": first_id, "stamp": stamp, "taken": json_dumps(staged.taken)}
    rows = f"{STAGE}.{_STAGED} AS s"
    session.execute(text(
        f"INSERT INTO contacts ({', '.join(_INSERT_COLUMNS)}) "
        f"SELECT :first_id + s.seq, :workspace_id, s.email, s.external_id, s.phone, s.first_name, s.last_name, "
        f"s.timezone, k.id, s.attributes, :stamp, :stamp "
        f"FROM {rows} LEFT JOIN temp.import_companies AS k ON k.name = s.company WHERE {_ALONE} ORDER BY s.seq"),
        values)
    session.execute(text(
        f"INSERT INTO contact_tags (workspace_id, contact_id, tag) SELECT :workspace_id, :first_id + s.seq, t.value "
        f"FROM {rows}, json_each(s.tags) AS t WHERE {_ALONE} AND s.tags IS NOT NULL"), values)
    publish_selected(session, text(
        f"SELECT :workspace_id, :topic, '{_FACT_HEAD}' || (:first_id + s.seq) || t.text, :fact_at "
        f"FROM {_WITH_TAILS.format(STAGE, _STAGED, _TAILS)} WHERE {_ALONE} ORDER BY s.seq")
        .bindparams(workspace_id=workspace_id, topic=CONTACT_CHANGED, first_id=first_id, fact_at=fact_at,
                    taken=values["taken"])
        .columns())
    return first_id


def write_chunk(session: Session, plan: ChunkPlan, *, workspace_id: int, import_id: int,
                now: dt.datetime) -> int:
    """Writes the plan. Returns how many contacts changed (one 'contact changed' fact each)."""
    company_ids = _create_companies(session, workspace_id, plan.company_names, now)
    for target in (*plan.changed_contacts, *(t for t in plan.new_contacts if isinstance(t, _Target))):
        placeholder = target.values["company_id"]
        if placeholder is not None and placeholder < 0:
            target.values["company_id"] = company_ids[placeholder]
    stamp = driver_value(session, _CONTACTS, "created_at", now)
    fact_at = fact_stamp(session, now)
    staged = plan.staged
    if staged is not None:
        first_id = _write_staged(session, staged, company_ids, workspace_id, stamp, fact_at)
        ids = [first_id + place for place in staged.new_places]
    else:
        ids = reserve_ids(session, _CONTACTS, len(plan.new_contacts))
    contacts: list[tuple[Any, ...]] = []
    tags: list[tuple[int, int, str]] = []
    facts: list[tuple[int | None, str, str, Any]] = []
    for new, company_id, contact_id in zip(plan.new_contacts, plan.new_company_ids, ids, strict=True):
        if isinstance(new, _Target):
            new.id = contact_id
            values, new_tags = new.values, new.new_tags
            contacts.append((contact_id, workspace_id, *(values[name] for name in _COLUMNS),
                             json_dumps(new.attributes), stamp, stamp))
            facts.append(_fact_row(contact_changed(workspace_id, contact_id, fields=_created_fields(new),
                                                   reason="import"), fact_at))
        else:
            if company_id is not None and company_id < 0:
                company_id = company_ids[company_id]
            new_tags = new[_TAG_LIST]
            contacts.append((contact_id, workspace_id, new[1], new[2], new[3], new[4], new[5], new[6], company_id,
                             new[_ATTRIBUTES_JSON], stamp, stamp))
            facts.append((workspace_id, CONTACT_CHANGED, f"{_FACT_HEAD}{contact_id}{new[_FACT_TAIL]}", fact_at))
        if new_tags:
            tags += [(workspace_id, contact_id, tag) for tag in new_tags]
    insert_rows(session, _CONTACTS, _INSERT_COLUMNS, contacts, prepared=True)
    changed = plan.changed_contacts
    if changed:
        session.execute(
            update(_CONTACTS).where(_CONTACTS.c.id == bindparam("target_id"))
            .values({**{c: bindparam(c) for c in _COLUMNS}, "attributes": bindparam("attributes"),
                     "updated_at": bindparam("updated_at")}),
            [{**t.values, "target_id": t.id, "attributes": t.attributes, "updated_at": now} for t in changed],
        )
    insert_rows(session, _TAGS, ("workspace_id", "contact_id", "tag"), tags, prepared=True)
    more_tags = [{"workspace_id": workspace_id, "contact_id": t.id, "tag": tag} for t in changed for tag in t.new_tags]
    if more_tags:
        session.execute(insert_ignoring_conflicts(session, _TAGS, ["workspace_id", "contact_id", "tag"]), more_tags)
    insert_rows(session, _ERRORS, _ERROR_COLUMNS, [
        (workspace_id, import_id, p.line, p.column[:255] if p.column else None, p.message, p.raw)
        for p in plan.problems], prepared=True)
    facts.extend(_fact_row(contact_changed(workspace_id, _id(t), fields=list(t.changed), reason="import"), fact_at)
                 for t in changed)
    publish_prepared(session, facts)
    if staged is not None:
        clear_stage(session)
        return len(facts) + staged.rows
    return len(facts)


def _fact_row(fact: dict[str, Any], stamp: Any) -> tuple[int | None, str, str, Any]:
    return fact["workspace_id"], fact["topic"], json_dumps(fact["payload"]), stamp


def _resolve(found: _Target | int, plan: ChunkPlan) -> _Target:
    """The contact `found` names; a new contact still given as its row becomes a _Target (a later row changes it)."""
    if isinstance(found, _Target):
        return found
    new = plan.new_contacts[found]
    if isinstance(new, _Target):
        return new
    target = _new_target(new, plan.new_company_ids[found])
    plan.new_contacts[found] = target
    return target


def _missing_required(row: RowValues, raw: str, required: Mapping[str, str | None], plan: ChunkPlan) -> bool:
    """Whether the row, creating a contact, lacks a required custom field (each missing one is a row error)."""
    attributes = _attributes(row)
    missing = [key for key in required if key not in attributes]
    plan.problems.extend(RowProblem(row[_LINE], required[key], f"{key} is required for a new contact", raw)
                         for key in missing)
    return bool(missing)


def _new_target(row: RowValues, company_id: int | None) -> _Target:
    values = dict(zip(_COLUMNS[:-1], row[1:7], strict=True))
    values["company_id"] = company_id
    tags = row[_TAG_LIST]
    return _Target(None, values, _attributes(row), set(tags), list(tags))


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


def ready_to_write(row: RowValues) -> RowValues:
    """The validated row as the writer takes it: its attributes as JSON (what a new contact stores, and cheaper to
    send between processes than a dict), then the JSON of its 'contact changed' fact after the contact's id.
    Made where rows are validated (the import's worker processes), so that the writer, the import's bottleneck,
    only puts the pieces together. `stage_rows` builds the same values inline, for speed; tests hold the rows
    read back from a stage (`staged_rows`) to this definition."""
    return (*row[:_ATTRIBUTES], json_dumps(row[_ATTRIBUTES]), _created_tail(row))


def _attributes(row: RowValues) -> dict[str, Any]:
    """A ready row's attributes, for the rows that need them as a dict (a contact a row changes)."""
    return cast(dict[str, Any], json_loads(row[_ATTRIBUTES_JSON]))


_fact_tails: dict[tuple[Any, ...], str] = {}
_FACT_HEAD = '{"contact_id":'


def _created_tail(row: RowValues) -> str:
    """The JSON of `contact_changed(…, fields=_created_fields(the row's new contact), reason="import")`'s payload
    after the id: the same for every row that fills the same fields, so it is made once per set (and, in a
    chunk sent between processes, it is one string)."""
    present = (row[1] is not None, row[2] is not None, row[3] is not None, row[4] is not None, row[5] is not None,
               row[6] is not None, bool(row[_COMPANY]), bool(row[_TAG_LIST]), *row[_ATTRIBUTES])
    tail = _fact_tails.get(present)
    if tail is None:
        fields = ["created", *(name for name, filled in zip(_COLUMNS, present, strict=False) if filled)]
        fields.extend(f"attributes.{key}" for key in row[_ATTRIBUTES])
        if row[_TAG_LIST]:
            fields.append("tags")
        text = json_dumps(contact_changed(0, 0, fields=fields, reason="import")["payload"])
        assert text.startswith(_FACT_HEAD + "0,"), text
        tail = text[len(_FACT_HEAD) + 1:]
        if len(_fact_tails) >= _FACT_TAILS_MAX:
            _fact_tails.clear()
        _fact_tails[present] = tail
    return tail


def _apply(target: _Target, row: RowValues, company_id: int | None) -> bool:
    """Lays the row's non-empty cells over the target. Returns whether anything changed."""
    values = target.values
    touched = False
    for name, index in _PLAIN_COLUMNS:
        value = row[index]
        if value is not None and values[name] != value:
            values[name], touched = value, True
            target.changed.add(name)
    for name, value in (("email", row[_EMAIL]), ("external_id", row[_EXTERNAL_ID]), ("company_id", company_id)):
        if value is not None and values[name] != value:
            values[name], touched = value, True
            target.changed.add(name)
    for key, value in _attributes(row).items():
        if target.attributes.get(key) != value:
            target.attributes[key], touched = value, True
            target.changed.add(f"attributes.{key}")
    for tag in row[_TAG_LIST]:
        if tag not in target.tags:
            target.tags.add(tag)
            target.new_tags.append(tag)
            target.changed.add("tags")
            touched = True
    return touched


def _identity_conflict(row: RowValues, raw: str, target: _Target, by_external_id: dict[str, _Target | int],
                       plan: ChunkPlan) -> RowProblem | None:
    values, line, email, external_id = target.values, row[_LINE], row[_EMAIL], row[_EXTERNAL_ID]
    if external_id and values["external_id"] and values["external_id"] != external_id:
        return RowProblem(line, None, f"the contact with this email already has the external id "
                                      f"{values['external_id']!r}", raw)
    if external_id and not values["external_id"]:
        owner = by_external_id.get(external_id)
        if owner is not None and _resolve(owner, plan) is not target:
            return RowProblem(line, None, "the email and the external id belong to two different contacts", raw)
    if email and values["email"] and values["email"] != email:
        return RowProblem(line, None, "the contact with this external id already has another email", raw)
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
        # Held until the chunk commits: the tags and updates written for them cannot outlive a concurrent delete.
        # (No ORDER BY: SQLite would walk the workspace's contacts in id order to avoid sorting.)
        query = (select(*columns).where(_CONTACTS.c.workspace_id == workspace_id,
                                        among(session, _CONTACTS.c[column], values)).with_for_update())
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
    # Held (FOR KEY SHARE) until the chunk commits, as `contacts.queries.lock_companies` does.
    query = (select(_COMPANIES.c.name, _COMPANIES.c.id)
             .where(_COMPANIES.c.workspace_id == workspace_id, among(session, _COMPANIES.c.name, names))
             .order_by(_COMPANIES.c.id.desc()).with_for_update(key_share=True))
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
