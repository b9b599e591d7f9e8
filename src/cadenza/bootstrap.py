"""The composition root: builds the engine, services and job handlers. No import-time side effects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cadenza.auth import AccessControl
from cadenza.config import Settings
from cadenza.contacts.companies import CompanyService
from cadenza.contacts.duplicate_scans import DuplicateScanService
from cadenza.contacts.duplicates import DuplicateService
from cadenza.contacts.fields import FieldService
from cadenza.contacts.importing import ImportService
from cadenza.contacts.service import ContactService
from cadenza.core.bus import EventBus
from cadenza.core.clock import Clock, SystemClock
from cadenza.events.contact_merge import EventTimeline
from cadenza.events.queries import EventQueries
from cadenza.events.service import IngestService
from cadenza.schema import MigrationStatus, migration_status
from cadenza.storage import Database
from cadenza.storage.idempotency import IdempotencyStore
from cadenza.storage.outbox import OutboxRelay
from cadenza.storage.probe import Probe
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
    companies: CompanyService
    fields: FieldService
    imports: ImportService
    duplicates: DuplicateService
    duplicate_scans: DuplicateScanService
    ingest: IngestService
    events: EventQueries
    jobs: JobRegistry = field(default_factory=JobRegistry)

    def migration_status(self) -> MigrationStatus:
        return migration_status(self.db.engine)

    def close(self) -> None:
        self.ingest.close()
        self.db.dispose()


def build_container(settings: Settings | None = None, *, clock: Clock | None = None,
                    db: Database | None = None) -> Container:
    settings = settings or Settings()
    clock = clock or SystemClock()
    db = db or Database.from_url(settings.database_url, pool_size=settings.database_pool_size,
                                 max_overflow=settings.database_max_overflow)
    queue = JobQueue(db, lease=dt.timedelta(seconds=settings.job_lease_seconds))
    timeline = EventTimeline()
    duplicates = DuplicateService(db, clock, timeline)
    access = AccessControl(db, clock, settings.session_max_age_seconds)
    container = Container(
        settings=settings,
        db=db,
        clock=clock,
        bus=EventBus(),
        access=access,
        queue=queue,
        outbox=OutboxRelay(db),
        idempotency=IdempotencyStore(db),
        contacts=ContactService(db, clock, timeline),
        companies=CompanyService(db, clock),
        fields=FieldService(db, clock),
        imports=ImportService(db, clock, settings, queue),
        duplicates=duplicates,
        duplicate_scans=DuplicateScanService(db, clock, queue, duplicates),
        ingest=IngestService(db, clock, settings, confirm_key=access.confirm_api_key),
        events=EventQueries(db, clock),
    )
    register_job_handlers(container)
    return container


def register_job_handlers(container: Container) -> None:
    """Each domain's background work, by job kind."""
    container.imports.register_jobs(container.jobs)
    container.duplicate_scans.register_jobs(container.jobs)
    Probe(container.db, container.clock).register_jobs(container.jobs)
