"""The composition root: builds the engine, services and job handlers. No import-time side effects."""

from __future__ import annotations

from dataclasses import dataclass, field

from cadenza.auth import AccessControl
from cadenza.config import Settings
from cadenza.contacts.service import ContactService
from cadenza.core.bus import EventBus
from cadenza.core.clock import Clock, SystemClock
from cadenza.events.service import IngestService
from cadenza.schema import MigrationStatus, migration_status
from cadenza.storage import Database
from cadenza.storage.idempotency import IdempotencyStore
from cadenza.storage.outbox import OutboxRelay
from cadenza.storage.queue import JobQueue
from cadenza.storage.registry import JobRegistry


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock
    bus: EventBus
    access: AccessControl
    queue: JobQueue
    outbox: OutboxRelay
    idempotency: IdempotencyStore
    contacts: ContactService
    ingest: IngestService
    jobs: JobRegistry = field(default_factory=JobRegistry)

    def migration_status(self) -> MigrationStatus:
        return migration_status(self.db.engine)

    def close(self) -> None:
        self.db.dispose()


def build_container(settings: Settings | None = None, *, clock: Clock | None = None,
                    db: Database | None = None) -> Container:
    settings = settings or Settings()
    clock = clock or SystemClock()
    db = db or Database.from_url(settings.database_url)
    container = Container(
        settings=settings,
        db=db,
        clock=clock,
        bus=EventBus(),
        access=AccessControl(db, clock, settings.session_max_age_seconds),
        queue=JobQueue(db),
        outbox=OutboxRelay(db),
        idempotency=IdempotencyStore(db),
        contacts=ContactService(db, clock),
        ingest=IngestService(db, clock, settings),
    )
    register_job_handlers(container)
    return container


def register_job_handlers(container: Container) -> None:
    """Each domain's background work, by job kind."""
