from __future__ import annotations

import pytest
from sqlalchemy import select

from cadenza.auth.models import Workspace
from cadenza.bootstrap import Container
from cadenza.storage.database import NestedTransactionError


def test_a_unit_of_work_refuses_to_open_inside_another(container: Container) -> None:
    with container.db.transaction(), pytest.raises(NestedTransactionError), container.db.transaction():
        pass


def test_an_error_rolls_back_everything_in_the_unit_of_work(container: Container) -> None:
    now = container.clock.now()
    with pytest.raises(RuntimeError), container.db.transaction() as session:
        session.add(Workspace(name="Half", slug="half", created_at=now))
        session.flush()
        raise RuntimeError("boom")
    with container.db.read() as session:
        assert session.scalar(select(Workspace).where(Workspace.slug == "half")) is None


def test_times_come_back_as_utc_aware(container: Container) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        session.add(Workspace(name="T", slug="t", created_at=now))
    with container.db.read() as session:
        stored = session.scalar(select(Workspace.created_at).where(Workspace.slug == "t"))
    assert stored == now
    assert stored is not None and stored.utcoffset() is not None
