"""Ingesting Segment calls: validation, idempotency by messageId, identity resolution, storage."""

from __future__ import annotations

from cadenza.config import Settings
from cadenza.core.clock import Clock
from cadenza.storage import Database


class IngestService:
    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
