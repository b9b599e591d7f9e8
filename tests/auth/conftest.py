"""Fixtures for access-control tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cadenza.bootstrap import Container, build_container
from cadenza.config import Settings
from cadenza.core.clock import FrozenClock
from cadenza.storage import Database
from cadenza.storage.database import build_engine


@pytest.fixture
def other_process(database_url: str, settings: Settings, clock: FrozenClock,
                  container: Container) -> Iterator[Container]:
    """A second `cadenza serve` process on the same database: its own engine, pool and caches."""
    db = Database(build_engine(database_url))
    yield build_container(settings, clock=clock, db=db)
    db.dispose()
