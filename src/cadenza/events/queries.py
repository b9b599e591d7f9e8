"""Reading the event store: a contact's timeline, events by time range."""

from __future__ import annotations

from cadenza.core.clock import Clock
from cadenza.storage import Database


class EventQueries:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
