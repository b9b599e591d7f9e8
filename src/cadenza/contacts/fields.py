"""Custom field definitions and the validation of their values."""

from __future__ import annotations

from cadenza.core.clock import Clock
from cadenza.storage import Database


class FieldService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
