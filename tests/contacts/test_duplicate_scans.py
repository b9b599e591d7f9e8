"""Duplicate scans as jobs: one per workspace at a time, progress in chunks, outcomes that never go unseen."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import update

from cadenza.auth import Principal, Scope
from cadenza.bootstrap import Container
from cadenza.contacts import duplicates
from cadenza.contacts.duplicate_scans import STOPPED_UNSEEN, ScanInfo, ScanNotFound
from cadenza.core.errors import PermissionDenied
from cadenza.storage.models import Job
from cadenza.workers.loop import Worker
from tests.conftest import Actors
from tests.contacts.test_duplicates import add


def test_two_requests_at_once_start_one_scan(container: Container, actors: Actors) -> None:
    barrier = threading.Barrier(4)
    results: list[tuple[ScanInfo, bool]] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            results.append(container.duplicate_scans.start_scan(actors.alice.principal))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert len({scan.id for scan, _ in results}) == 1
    assert sorted(started for _, started in results) == [False, False, False, True]
    assert len(container.duplicate_scans.list_scans(actors.alice.principal).items) == 1


def test_progress_is_recorded_every_chunk_on_the_scan_and_its_job(container: Container, actors: Actors,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ws = actors.alice.workspace_id
    monkeypatch.setattr(duplicates, "STREAM_CHUNK", 2)
    for i in range(3):
        add(container, ws, email=f"u{i}+x@example.com", first_name="Ann", last_name=f"Lee{i}")
        add(container, ws, email=f"u{i}@example.com")
    seen: list[tuple[int, int, int | None]] = []
    original = container.duplicate_scans._progress

    def spy(job: Any, scan_id: int, done: int, pairs: int, total: int) -> None:
        original(job, scan_id, done, pairs, total)
        scan = container.duplicate_scans.get_scan(actors.alice.principal, scan_id)
        seen.append((scan.contacts_done, scan.pairs_found, scan.contacts_total))

    monkeypatch.setattr(container.duplicate_scans, "_progress", spy)
    scan, _ = container.duplicate_scans.start_scan(actors.alice.principal)

    Worker(container).run_once()

    total = 3 + 3  # three +tagged emails, three named contacts
    assert [done for done, _, _ in seen] == [0, 2, 4, 6, 6]
    assert {t for _, _, t in seen} == {total}
    finished = container.duplicate_scans.get_scan(actors.alice.principal, scan.id)
    # The three +tag pairs; "ann lee0" and "ann lee1" are too far apart to pair.
    assert (finished.status, finished.pairs_found, finished.contacts_done, finished.percent) == ("done", 3, 6, 100)
    job = container.queue.get_job(scan.job_id or 0)
    assert job is not None and (job.status, job.progress_done, job.progress_total) == ("done", 6, total)


def test_a_scan_whose_job_died_on_its_last_attempt_shows_failed_and_another_may_start(
        container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    scan, _ = container.duplicate_scans.start_scan(alice)
    with container.db.transaction() as session:  # as the queue does when the lease of the last attempt expires
        session.execute(update(Job).where(Job.id == scan.job_id).values(status="failed", last_error=None))

    shown = container.duplicate_scans.get_scan(alice, scan.id)
    following, started = container.duplicate_scans.start_scan(alice)

    assert (shown.status, shown.error) == ("failed", STOPPED_UNSEEN)
    assert started and following.id != scan.id
    assert container.duplicate_scans.get_scan(alice, scan.id).status == "failed"


def test_scans_are_the_workspaces_own_and_need_their_permissions(container: Container, actors: Actors) -> None:
    reader = Principal.for_api_key(actors.alice.workspace_id, 1, "read key", Scope.READ)
    with pytest.raises(PermissionDenied):
        container.duplicate_scans.start_scan(reader)
    assert container.duplicate_scans.list_scans(reader).items == []  # nothing was written
    scan, _ = container.duplicate_scans.start_scan(actors.alice.principal)

    with pytest.raises(PermissionDenied):
        container.duplicate_scans.cancel_scan(reader, scan.id)
    with pytest.raises(ScanNotFound):
        container.duplicate_scans.get_scan(actors.charlie.principal, scan.id)
    with pytest.raises(ScanNotFound):
        container.duplicate_scans.cancel_scan(actors.charlie.principal, scan.id)
    assert container.duplicate_scans.latest_scan(actors.charlie.principal) is None
    assert container.duplicate_scans.get_scan(reader, scan.id).status == "queued"
