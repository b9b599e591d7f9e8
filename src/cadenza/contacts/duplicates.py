"""Finding likely duplicates (exact on email/phone, fuzzy on name + company) and merging contacts.

`find_duplicates` streams the workspace's contacts a few times in sorted order, so memory stays flat and
the work grows with the number of contacts, never with its square:

* phone: contacts sorted by phone; each contact sharing a number is paired with the first one that has it
  (a number shared by more than `MAX_SHARED` contacts is a switchboard, not a person, and is left out);
* email: an address with a `+tag` is paired with the plain address when a contact has it
  (`ada+news@example.com` ↔ `ada@example.com`); addresses are unique, so this is the exact email check;
* name: within one company (or among contacts without a company), contacts sorted by last and first name
  are compared with the `WINDOW` contacts before them (sorted neighbourhood blocking); a rapidfuzz
  `token_sort_ratio` of at least `NAME_THRESHOLD` on "first last" makes a pair.

Pairs are stored as `DuplicateCandidate(contact_id < other_contact_id)`; a pair already recorded (open,
dismissed or otherwise) is left as it is, so a scan is idempotent and a dismissed pair stays dismissed.

A scan started from the UI or the API runs as a job (`cadenza.contacts.duplicate_scans`), which calls
`scan_workspace` with a progress callback: rows read so far over the three passes (`rows_to_scan` is their
total) and pairs stored so far.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rapidfuzz import fuzz
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from cadenza.auth import Permission, Principal
from cadenza.contacts.errors import require
from cadenza.contacts.merge import MergeTimeline, merge_contacts
from cadenza.contacts.models import Contact, ContactMerge, DuplicateCandidate
from cadenza.core.clock import Clock
from cadenza.core.errors import Conflict, NotFound, ValidationFailed
from cadenza.core.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from cadenza.storage import Database
from cadenza.storage.dialect import insert_ignoring_conflicts

NAME_THRESHOLD = 90.0
WINDOW = 10
MAX_SHARED = 25
STREAM_CHUNK = 5_000
FLUSH_PAIRS = 1_000
STATUSES = ("open", "merged", "dismissed")


@dataclass(frozen=True)
class ContactBrief:
    id: int
    email: str | None
    external_id: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    company_id: int | None


@dataclass(frozen=True)
class DuplicatePair:
    id: int
    reason: str
    score: float
    status: str
    created_at: dt.datetime
    contact: ContactBrief | None
    other_contact: ContactBrief | None


class CandidateNotFound(NotFound):
    title = "Duplicate candidate not found"
    type_slug = "duplicate-candidate-not-found"


_Pair = tuple[int, int, str, float]
ScanProgress = Callable[[int, int], None]  # (rows read over the passes, new pairs stored)


class _Rows:
    """Counts the rows the passes read, and reports every `STREAM_CHUNK` of them."""

    def __init__(self, report: Callable[[int], None] | None) -> None:
        self.done = 0
        self._report = report
        self._next = STREAM_CHUNK

    def read(self) -> None:
        self.done += 1
        if self.done >= self._next:
            self._next += STREAM_CHUNK
            if self._report is not None:
                self._report(self.done)


class DuplicateService:
    def __init__(self, db: Database, clock: Clock, timeline: MergeTimeline | None = None) -> None:
        self.db = db
        self.clock = clock
        self.timeline = timeline

    def find_duplicates(self, principal: Principal) -> int:
        """Scans the workspace now, in the caller's thread, and stores new candidate pairs. Returns how many
        new pairs were stored. (The UI and the API queue a scan instead: `DuplicateScanService`.)"""
        require(principal, Permission.WRITE)
        return self.scan_workspace(principal.workspace_id)

    def scan_workspace(self, workspace_id: int, progress: ScanProgress | None = None) -> int:
        """Stores the workspace's new candidate pairs; returns how many. `progress(rows, pairs)` is called
        every few thousand rows read; an exception it raises stops the scan (what was stored stays)."""
        stored = 0
        buffer: list[_Pair] = []
        rows = _Rows((lambda done: progress(done, stored)) if progress is not None else None)
        for pair in self._pairs(workspace_id, rows):
            buffer.append(pair)
            if len(buffer) >= FLUSH_PAIRS:
                stored += self._store(workspace_id, buffer)
                buffer = []
        stored += self._store(workspace_id, buffer)
        if progress is not None:
            progress(rows.done, stored)
        return stored

    def rows_to_scan(self, workspace_id: int) -> int:
        """How many rows `scan_workspace` reads over its three passes (the total of its progress)."""
        with self.db.read() as session:
            return sum(int(session.scalar(select(func.count()).where(*where)) or 0)
                       for where in _pass_filters(workspace_id))

    def _pairs(self, workspace_id: int, rows: _Rows) -> Iterator[_Pair]:
        with self.db.read() as session:
            yield from _phone_pairs(session, workspace_id, rows)
            yield from _email_pairs(session, workspace_id, rows)
            yield from _name_pairs(session, workspace_id, rows)

    def _store(self, workspace_id: int, pairs: list[_Pair]) -> int:
        unique = {(a, b): (reason, score) for a, b, reason, score in reversed(pairs)}  # the first reason wins
        if not unique:
            return 0
        now = self.clock.now()
        table = DuplicateCandidate.__table__
        with self.db.transaction() as session:
            statement = insert_ignoring_conflicts(session, table,  # type: ignore[arg-type]
                                                  ["workspace_id", "contact_id", "other_contact_id"])
            inserted = session.execute(
                statement.returning(table.c.id),  # type: ignore[attr-defined]
                [{"workspace_id": workspace_id, "contact_id": a, "other_contact_id": b, "reason": reason,
                  "score": score, "status": "open", "created_at": now}
                 for (a, b), (reason, score) in sorted(unique.items())],
            ).all()
        return len(inserted)

    def list_candidates(self, principal: Principal, status: str | None = "open", limit: int | None = None,
                        cursor: str | None = None) -> Page[DuplicatePair]:
        """Candidate pairs, best score first, with both contacts."""
        require(principal, Permission.READ)
        limit = clamp_limit(limit)
        if status is not None and status not in STATUSES:
            raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}.", errors=[{"field": "status"}])
        query = select(DuplicateCandidate).where(DuplicateCandidate.workspace_id == principal.workspace_id)
        if status is not None:
            query = query.where(DuplicateCandidate.status == status)
        if cursor:
            score, last_id = _cursor(cursor)
            query = query.where((DuplicateCandidate.score < score)
                                | ((DuplicateCandidate.score == score) & (DuplicateCandidate.id > last_id)))
        with self.db.read() as session:
            rows = list(session.scalars(query.order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id)
                                        .limit(limit + 1)))
            page = rows[:limit]
            contacts = _briefs(session, principal.workspace_id,
                               {c.contact_id for c in page} | {c.other_contact_id for c in page})
        items = [DuplicatePair(c.id, c.reason, c.score, c.status, c.created_at, contacts.get(c.contact_id),
                               contacts.get(c.other_contact_id)) for c in page]
        next_cursor = encode_cursor([page[-1].score, page[-1].id]) if len(rows) > limit else None
        return Page(items, next_cursor)

    def dismiss_candidate(self, principal: Principal, candidate_id: int) -> DuplicatePair:
        """Marks a pair as not the same person; later scans leave it dismissed."""
        require(principal, Permission.WRITE)
        with self.db.transaction() as session:
            candidate = session.scalar(select(DuplicateCandidate).where(
                DuplicateCandidate.workspace_id == principal.workspace_id, DuplicateCandidate.id == candidate_id))
            if candidate is None:
                raise CandidateNotFound(f"No duplicate candidate {candidate_id} in this workspace.")
            if candidate.status != "open":
                raise Conflict(f"Duplicate candidate {candidate_id} is already {candidate.status}.")
            candidate.status = "dismissed"
            contacts = _briefs(session, principal.workspace_id, {candidate.contact_id, candidate.other_contact_id})
            return DuplicatePair(candidate.id, candidate.reason, candidate.score, candidate.status,
                                 candidate.created_at, contacts.get(candidate.contact_id),
                                 contacts.get(candidate.other_contact_id))

    def merge_contacts(self, principal: Principal, survivor_id: int, merged_id: int) -> ContactMerge:
        """Merges `merged_id` into `survivor_id` in one transaction.

        The survivor's non-empty values win; the merged contact fills the survivor's empty fields, and its
        attributes fill empty attributes key by key; tags are unioned; the company is the survivor's, else
        the merged contact's. Events, identities, tags and duplicate candidates move to the survivor, and
        the merged contact is deleted (its values are kept in the merge record)."""
        require(principal, Permission.WRITE)
        if self.timeline is None:
            raise RuntimeError("DuplicateService needs the event timeline to merge (see bootstrap)")
        with self.db.transaction() as session:
            return merge_contacts(session, principal, survivor_id, merged_id, timeline=self.timeline,
                                  now=self.clock.now())


def _pass_filters(workspace_id: int) -> list[tuple[ColumnElement[bool], ...]]:
    """The rows each pass reads: contacts with a phone, with a +tagged email, with a name."""
    in_workspace = Contact.workspace_id == workspace_id
    return [(in_workspace, Contact.phone.is_not(None)),
            (in_workspace, Contact.email.like("%+%@%")),
            (in_workspace, (Contact.first_name.is_not(None)) | (Contact.last_name.is_not(None)))]


def _phone_pairs(session: Session, workspace_id: int, rows: _Rows) -> Iterator[_Pair]:
    query = (select(Contact.id, Contact.phone).where(*_pass_filters(workspace_id)[0])
             .order_by(Contact.phone, Contact.id).execution_options(yield_per=STREAM_CHUNK))
    group: list[int] = []
    current: str | None = None
    for contact_id, phone in session.execute(query):
        rows.read()
        if phone != current:
            yield from _star(group, "phone")
            group, current = [], phone
        group.append(contact_id)
    yield from _star(group, "phone")


def _star(group: list[int], reason: str) -> Iterator[_Pair]:
    if 1 < len(group) <= MAX_SHARED:
        first = group[0]
        for other in group[1:]:
            yield first, other, reason, 1.0


def _email_pairs(session: Session, workspace_id: int, rows: _Rows) -> Iterator[_Pair]:
    query = (select(Contact.id, Contact.email).where(*_pass_filters(workspace_id)[1])
             .order_by(Contact.id).execution_options(yield_per=STREAM_CHUNK))
    for chunk in session.execute(query).partitions():
        plain: dict[str, list[int]] = {}
        for contact_id, email in chunk:
            rows.read()
            local, _, domain = str(email).rpartition("@")
            plain.setdefault(f"{local.split('+', 1)[0]}@{domain}", []).append(contact_id)
        found = select(Contact.id, Contact.email).where(Contact.workspace_id == workspace_id,
                                                        Contact.email.in_(list(plain)))
        for plain_id, email in session.execute(found).all():
            for tagged_id in plain[str(email)]:
                yield min(plain_id, tagged_id), max(plain_id, tagged_id), "email", 1.0


def _name_pairs(session: Session, workspace_id: int, rows: _Rows) -> Iterator[_Pair]:
    last, first = func.lower(func.coalesce(Contact.last_name, "")), func.lower(func.coalesce(Contact.first_name, ""))
    query = (select(Contact.id, Contact.company_id, Contact.first_name, Contact.last_name)
             .where(*_pass_filters(workspace_id)[2])
             .order_by(Contact.company_id, last, first, Contact.id).execution_options(yield_per=STREAM_CHUNK))
    window: deque[tuple[int, str]] = deque(maxlen=WINDOW)
    block: object = object()
    for contact_id, company_id, first_name, last_name in session.execute(query):
        rows.read()
        if company_id != block:
            window.clear()
            block = company_id
        name = f"{first_name or ''} {last_name or ''}".strip().lower()
        if len(name) < 3:
            continue
        for other_id, other_name in window:
            score = fuzz.token_sort_ratio(name, other_name, score_cutoff=NAME_THRESHOLD)
            if score:
                yield min(contact_id, other_id), max(contact_id, other_id), "name_company", round(score / 100, 4)
        window.append((contact_id, name))


def _briefs(session: Session, workspace_id: int, ids: set[int]) -> dict[int, ContactBrief]:
    if not ids:
        return {}
    rows = session.execute(select(Contact.id, Contact.email, Contact.external_id, Contact.phone, Contact.first_name,
                                  Contact.last_name, Contact.company_id)
                           .where(Contact.workspace_id == workspace_id, Contact.id.in_(ids)))
    return {row.id: ContactBrief(*row) for row in rows}


def _cursor(cursor: str) -> tuple[float, int]:
    values = decode_cursor(cursor)
    try:
        return float(values[0]), int(values[1])
    except (TypeError, ValueError, IndexError):
        raise ValidationFailed("The cursor is not one this server issued.", errors=[{"field": "cursor"}])
