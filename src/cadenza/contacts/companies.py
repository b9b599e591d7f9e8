"""Use cases on companies (accounts)."""

from __future__ import annotations

from cadenza.core.clock import Clock
from cadenza.storage import Database


class CompanyService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
