"""The whole schema: every domain's tables on one MetaData, and the Alembic migrations that build it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData

import cadenza.auth.models
import cadenza.contacts.models
import cadenza.events.models
import cadenza.storage.models  # noqa: F401  (registers the tables)
from cadenza.storage.base import metadata
from cadenza.storage.database import normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def schema_metadata() -> MetaData:
    return metadata


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None
    head: str | None

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def migration_status(engine: Engine) -> MigrationStatus:
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return MigrationStatus(current=current, head=script.get_current_head())
