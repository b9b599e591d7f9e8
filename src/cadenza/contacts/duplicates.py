"""Finding likely duplicates (exact on email/phone, fuzzy on name + company) and merging contacts."""

from __future__ import annotations

from cadenza.core.clock import Clock
from cadenza.storage import Database


class DuplicateService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
