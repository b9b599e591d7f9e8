"""The dashboard's headline counts: simple read queries, one workspace at a time.

No domain service offers workspace-wide counts, so the UI keeps these few reads here rather than
in a route handler.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from cadenza.auth import Permission, Principal
from cadenza.contacts.models import Company, Contact
from cadenza.core.clock import Clock
from cadenza.core.errors import PermissionDenied
from cadenza.events.models import Event
from cadenza.storage import Database


@dataclass(frozen=True)
class WorkspaceCounts:
    contacts: int
    companies: int
    events_last_7_days: int


class WorkspaceOverview:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def counts(self, principal: Principal) -> WorkspaceCounts:
        if not principal.can(Permission.READ):
            raise PermissionDenied("This needs the read permission.")
        workspace_id = principal.workspace_id
        since = self.clock.now() - dt.timedelta(days=7)
        with self.db.read() as session:
            contacts = session.scalar(select(func.count()).select_from(Contact)
                                      .where(Contact.workspace_id == workspace_id))
            companies = session.scalar(select(func.count()).select_from(Company)
                                       .where(Company.workspace_id == workspace_id))
            events = session.scalar(select(func.count()).select_from(Event)
                                    .where(Event.workspace_id == workspace_id, Event.occurred_at >= since))
        return WorkspaceCounts(int(contacts or 0), int(companies or 0), int(events or 0))
