"""Contacts as CSV, streamed a page at a time: any number of contacts in flat memory.

The columns are the ones an import maps back by itself (`email`, `first_name`, `last_name`, `phone`,
`company` by name, `external_id`, `tags` joined with "; ", `timezone`, then each custom field under its
key), plus `id` and the contact's times. Cells a spreadsheet would run as a formula (= + - @, tab, CR at
the start: a phone number like +44… too) get a leading quote, which an import takes off again.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator, Sequence
from typing import Any

from cadenza.contacts.fields import load_definitions
from cadenza.contacts.queries import contacts_out, list_contact_rows
from cadenza.contacts.schemas import ContactFilters, ContactOut
from cadenza.core.text import escape_csv_cell
from cadenza.storage import Database
from cadenza.storage.bulk import plan_each_statement

HEADERS = ("id", "email", "first_name", "last_name", "phone", "company", "external_id", "tags", "timezone",
           "created_at", "updated_at", "last_seen_at")
PAGE = 1_000


def contact_csv(db: Database, workspace_id: int, filters: ContactFilters, *, page: int = PAGE) -> Iterator[str]:
    """The header and the first page are read now, so a bad filter is an error before anything is sent;
    the rest is read as the caller iterates, newest contact first."""
    with db.read() as session:
        keys = sorted(load_definitions(session, workspace_id, "contact"))
    first, more = _page(db, workspace_id, filters, None, page)
    return _lines(db, workspace_id, filters, keys, first, more, page)


def _page(db: Database, workspace_id: int, filters: ContactFilters, before_id: int | None,
          page: int) -> tuple[list[ContactOut], bool]:
    """One page of contacts below `before_id`, and whether more may follow."""
    with db.read() as session:
        plan_each_statement(session)
        rows = list_contact_rows(session, workspace_id, filters, before_id=before_id, limit=page)
        return contacts_out(session, workspace_id, rows), len(rows) == page


def _lines(db: Database, workspace_id: int, filters: ContactFilters, keys: list[str], contacts: list[ContactOut],
           more: bool, page: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*HEADERS, *keys])
    while True:
        for contact in contacts:
            writer.writerow(_row(contact, keys))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if not more or not contacts:
            return
        contacts, more = _page(db, workspace_id, filters, contacts[-1].id, page)


def _row(contact: ContactOut, keys: Sequence[str]) -> list[str]:
    standard = [str(contact.id), contact.email, contact.first_name, contact.last_name, contact.phone,
                contact.company.name if contact.company else None, contact.external_id, "; ".join(contact.tags),
                contact.timezone, _cell(contact.created_at), _cell(contact.updated_at), _cell(contact.last_seen_at)]
    return [escape_csv_cell(_cell(value)) for value in [*standard, *(contact.attributes.get(k) for k in keys)]]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "; ".join(_cell(item) for item in value)
    return str(value)
