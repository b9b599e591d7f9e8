"""The demo workspace is filled through the ingest service, deterministically."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest

from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.demo import fill_demo_data
from cadenza.events.sample import demo_traffic
from tests.events.factories import companies, contacts, events


@pytest.fixture
def owner(container: Container) -> Principal:
    return container.access.create_workspace("Demo", "owner@demo.example", "correct horse battery", "Owner")


def test_the_demo_traffic_is_the_same_for_the_same_seed() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    first = list(demo_traffic(now, contacts=50, rng=random.Random(42)))
    second = list(demo_traffic(now, contacts=50, rng=random.Random(42)))

    assert first == second
    calls = [call for batch in first for call in batch]
    assert [call["timestamp"] for call in calls] == sorted(call["timestamp"] for call in calls)
    assert min(call["timestamp"] for call in calls) >= "2025-10-03"


def test_the_demo_fills_people_companies_and_stitched_history(container: Container, owner: Principal) -> None:
    fill_demo_data(container, owner, contacts=60)

    people = contacts(container, owner.workspace_id)
    stored = events(container, owner.workspace_id)
    assert len(people) == 60
    assert all(p.email and p.first_name and p.last_name and p.external_id for p in people)
    assert {p.company_id for p in people} - {None} == {c.id for c in companies(container, owner.workspace_id)}
    assert Counter(e.type for e in stored)["identify"] == 60
    assert Counter(e.name for e in stored)["Signed Up"] == 60
    assert any(e.anonymous_id and e.user_id is None for e in stored)  # anonymous visits happened …
    assert all(e.contact_id is not None for e in stored)  # … and were stitched to their person
    assert {e.source for e in stored} == {"demo"}


def test_filling_the_demo_twice_stores_nothing_twice(container: Container, owner: Principal) -> None:
    fill_demo_data(container, owner, contacts=20)
    count = len(events(container, owner.workspace_id))

    fill_demo_data(container, owner, contacts=20)

    assert len(events(container, owner.workspace_id)) == count


@pytest.mark.slow
def test_the_full_demo_fills_the_workspace(container: Container, owner: Principal) -> None:
    # How long it takes is not a test's business (shared machines are noisy): `cadenza serve --demo` shows it.
    fill_demo_data(container, owner, contacts=2000)

    assert len(contacts(container, owner.workspace_id)) == 2000
    assert len(companies(container, owner.workspace_id)) == 30
