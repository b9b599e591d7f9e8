"""Group commit: requests waiting for SQLite's writer share one transaction, each all-or-nothing."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.auth.models import Workspace
from cadenza.bootstrap import Container
from cadenza.events.group_commit import GroupCommit


AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _add(slug: str, fail: bool = False) -> Any:
    def work(session: Session) -> str:
        session.add(Workspace(name=slug, slug=slug, created_at=AT))
        session.flush()
        if fail:
            raise ValueError(f"{slug} went wrong")
        return slug

    return work


def _slugs(container: Container) -> set[str]:
    with container.db.read() as session:
        return set(session.scalars(select(Workspace.slug)))


def test_one_request_alone_commits(container: Container) -> None:
    group = GroupCommit(container.db)

    assert group.run(_add("alone")) == "alone"
    assert _slugs(container) == {"alone"}


def test_a_failing_request_rolls_back_alone_and_the_others_of_its_group_commit(container: Container) -> None:
    group = GroupCommit(container.db)
    outcomes: dict[str, Any] = {}

    def call(slug: str, fail: bool) -> None:
        try:
            outcomes[slug] = group.run(_add(slug, fail))
        except ValueError as error:
            outcomes[slug] = str(error)

    with group._writer:  # hold the writer so that three requests queue up and go as one group
        threads = [threading.Thread(target=call, args=(slug, slug == "bad")) for slug in ("first", "bad", "last")]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while len(group._pending) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    for thread in threads:
        thread.join(5)

    assert outcomes == {"first": "first", "bad": "bad went wrong", "last": "last"}
    assert _slugs(container) == {"first", "last"}


def test_when_the_commit_fails_every_request_of_the_group_fails(container: Container,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    group = GroupCommit(container.db)

    def refuse_commit(*_args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(container.db.engine.dialect, "do_commit", refuse_commit)
    with pytest.raises(RuntimeError):
        group.run(_add("lost"))
    monkeypatch.undo()

    assert _slugs(container) == set()
