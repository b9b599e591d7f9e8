"""Use cases on contacts: create, upsert, read, update, delete, list, tags, timeline."""

from __future__ import annotations

from cadenza.core.clock import Clock
from cadenza.storage import Database


class ContactService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
