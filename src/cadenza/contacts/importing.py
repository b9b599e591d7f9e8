"""CSV import of contacts: mapping, coercion, validation, de-duplication, streaming in chunks."""

from __future__ import annotations

from cadenza.config import Settings
from cadenza.core.clock import Clock
from cadenza.storage import Database
from cadenza.storage.queue import JobQueue
from cadenza.storage.registry import JobRegistry


class ImportService:
    def __init__(self, db: Database, clock: Clock, settings: Settings, queue: JobQueue) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.queue = queue

    def register_jobs(self, registry: JobRegistry) -> None:
        """Registers the job that runs an import uploaded through the UI or API."""
