"""The job queue: due times, batch claims, leases, per-key serialisation, retries, controls, depth."""

from __future__ import annotations

import datetime as dt

import pytest

from cadenza.bootstrap import Container
from cadenza.core.clock import FrozenClock
from cadenza.storage.queue import LEASE, backoff, enqueue_many
from tests.conftest import Actors
from tests.storage.factories import job, make_job, statuses

MINUTE = dt.timedelta(minutes=1)


def claim_ids(container: Container, worker: str = "w1", limit: int = 50) -> list[int]:
    return [j.id for j in container.queue.claim(worker, container.clock.now(), limit)]


# ---- due times and batches -------------------------------------------------------------------


def test_a_job_is_not_claimed_before_its_due_time(container: Container, clock: FrozenClock) -> None:
    job_id = make_job(container, due_in=10 * MINUTE)

    assert claim_ids(container) == []
    clock.advance(minutes=9, seconds=59)
    assert claim_ids(container) == []
    clock.advance(seconds=1)
    assert claim_ids(container) == [job_id]


def test_claims_take_due_jobs_in_batches_oldest_due_first(container: Container, clock: FrozenClock) -> None:
    late = make_job(container, due_in=-1 * MINUTE)
    later = make_job(container, due_in=-2 * MINUTE)
    a, b, c = (make_job(container, due_in=-3 * MINUTE) for _ in range(3))

    assert claim_ids(container, limit=2) == [a, b]
    assert claim_ids(container, limit=2) == [c, later]
    assert claim_ids(container, limit=2) == [late]
    assert claim_ids(container, limit=2) == []


def test_a_claim_marks_the_job_running_with_a_lease(container: Container, clock: FrozenClock) -> None:
    job_id = make_job(container, payload={"n": 1}, workspace_id=None, key="k")

    (claimed,) = container.queue.claim("w1", clock.now())

    assert (claimed.id, claimed.kind, claimed.payload, claimed.attempts, claimed.key, claimed.claimed_by) == (
        job_id, "test.noop", {"n": 1}, 1, "k", "w1")
    info = job(container, job_id)
    assert (info.status, info.claimed_by, info.lease_until, info.attempts) == ("running", "w1", clock.now() + LEASE, 1)


def test_enqueue_many_adds_jobs_in_order_and_returns_their_ids(container: Container) -> None:
    with container.db.transaction() as session:
        ids = enqueue_many(session, [{"kind": "a", "payload": {"i": i}} for i in range(3)],
                           now=container.clock.now())

    assert ids == sorted(ids) and len(ids) == 3
    assert [job(container, i).payload for i in ids] == [{"i": 0}, {"i": 1}, {"i": 2}]


# ---- leases ----------------------------------------------------------------------------------


def test_a_claimed_job_is_claimed_again_only_once_its_lease_expired(container: Container,
                                                                     clock: FrozenClock) -> None:
    job_id = make_job(container)
    assert claim_ids(container, "w1") == [job_id]

    assert claim_ids(container, "w2") == []
    clock.advance(minutes=5)
    assert claim_ids(container, "w2") == []  # the lease holds up to and including lease_until
    clock.advance(seconds=1)
    (taken_over,) = container.queue.claim("w2", clock.now())

    assert (taken_over.id, taken_over.attempts, taken_over.claimed_by) == (job_id, 2, "w2")


def test_the_first_worker_cannot_complete_a_job_another_took_over(container: Container,
                                                                   clock: FrozenClock) -> None:
    job_id = make_job(container)
    claim_ids(container, "w1")
    clock.advance(minutes=6)
    claim_ids(container, "w2")

    assert container.queue.complete([job_id], clock.now(), worker_id="w1") == 0
    assert (job(container, job_id).status, job(container, job_id).claimed_by) == ("running", "w2")
    assert container.queue.complete([job_id], clock.now(), worker_id="w2") == 1
    assert job(container, job_id).status == "done"


def test_a_renewed_lease_keeps_the_job_from_being_taken_over(container: Container, clock: FrozenClock) -> None:
    job_id = make_job(container)
    claim_ids(container, "w1")
    clock.advance(minutes=4)

    assert container.queue.extend_lease([job_id], "w1", clock.now()) == 1
    assert container.queue.extend_lease([job_id], "w2", clock.now()) == 0
    clock.advance(minutes=4)
    assert claim_ids(container, "w2") == []
    clock.advance(minutes=1, seconds=1)
    assert claim_ids(container, "w2") == [job_id]


def test_a_job_whose_last_attempt_lost_its_worker_fails_visibly(container: Container, clock: FrozenClock) -> None:
    job_id = make_job(container, max_attempts=2)
    claim_ids(container, "w1")
    clock.advance(minutes=6)
    assert claim_ids(container, "w2") == [job_id]  # attempt 2 of 2
    clock.advance(minutes=6)

    assert claim_ids(container, "w3") == []
    info = job(container, job_id)
    assert (info.status, info.attempts, info.finished_at) == ("failed", 2, clock.now())
    assert info.last_error is not None and "lease expired" in info.last_error


def test_released_jobs_go_back_to_the_queue_without_using_an_attempt(container: Container,
                                                                     clock: FrozenClock) -> None:
    ids = [make_job(container) for _ in range(3)]
    claim_ids(container, "w1")

    assert container.queue.release(ids[1:], "w2") == 0
    assert container.queue.release(ids[1:], "w1") == 2

    assert [(job(container, i).status, job(container, i).attempts) for i in ids] == [
        ("running", 1), ("queued", 0), ("queued", 0)]
    assert claim_ids(container, "w2") == ids[1:]


# ---- one job per key at a time ---------------------------------------------------------------


def test_jobs_sharing_a_key_never_run_at_the_same_time(container: Container, clock: FrozenClock) -> None:
    first = make_job(container, key="contact:1", due_in=-3 * MINUTE)
    second = make_job(container, key="contact:1", due_in=-2 * MINUTE)
    other_key = make_job(container, key="contact:2", due_in=-1 * MINUTE)
    no_key = make_job(container)

    assert claim_ids(container, "w1") == [first, other_key, no_key]
    assert claim_ids(container, "w2") == []  # contact:1 is running on w1

    container.queue.complete([first], clock.now())
    assert claim_ids(container, "w2") == [second]


def test_a_key_whose_running_job_lost_its_lease_is_free_again(container: Container, clock: FrozenClock) -> None:
    stalled = make_job(container, key="contact:1")
    claim_ids(container, "w1")
    waiting = make_job(container, key="contact:1", due_in=-1 * MINUTE)  # due before the stalled one
    assert claim_ids(container, "w2") == []

    clock.advance(minutes=6)

    assert claim_ids(container, "w2") == [waiting]  # one job per key per claim; the older due one
    assert job(container, stalled).status == "running"


def test_a_running_job_without_a_key_blocks_no_keyed_job(container: Container, clock: FrozenClock) -> None:
    # busy keys leave NULL out: one NULL in `key NOT IN (…)` would make every keyed job unclaimable.
    make_job(container)
    claim_ids(container, "w1")
    keyed = make_job(container, key="contact:1")

    assert claim_ids(container, "w2") == [keyed]


# ---- failures and retries --------------------------------------------------------------------


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 15), (2, 60), (3, 240), (4, 960), (5, 3840), (6, 15360),
                                                   (7, 21600), (20, 21600)])
def test_backoff_grows_fourfold_from_15_seconds_up_to_6_hours(attempts: int, seconds: int) -> None:
    assert backoff(attempts) == dt.timedelta(seconds=seconds)


def test_a_failing_job_is_retried_with_backoff_then_fails_with_its_last_error(container: Container,
                                                                               clock: FrozenClock) -> None:
    job_id = make_job(container, max_attempts=3)
    start = clock.now()

    (claimed,) = container.queue.claim("w1", clock.now())
    assert container.queue.fail(claimed, "timeout 1", clock.now()) == "queued"
    assert (job(container, job_id).due_at, job(container, job_id).last_error) == (
        start + dt.timedelta(seconds=15), "timeout 1")
    clock.advance(seconds=14)
    assert claim_ids(container) == []
    clock.advance(seconds=1)

    (claimed,) = container.queue.claim("w1", clock.now())
    assert claimed.attempts == 2
    assert container.queue.fail(claimed, "timeout 2", clock.now()) == "queued"
    assert job(container, job_id).due_at == clock.now() + MINUTE
    clock.advance(minutes=1)

    (claimed,) = container.queue.claim("w1", clock.now())
    assert claimed.attempts == 3
    assert container.queue.fail(claimed, "timeout 3", clock.now()) == "failed"

    info = job(container, job_id)
    assert (info.status, info.attempts, info.last_error, info.finished_at, info.lease_until) == (
        "failed", 3, "timeout 3", clock.now(), None)
    clock.advance(days=1)
    assert claim_ids(container) == []


def test_a_permanent_failure_fails_at_once(container: Container, clock: FrozenClock) -> None:
    job_id = make_job(container, max_attempts=5)
    (claimed,) = container.queue.claim("w1", clock.now())

    assert container.queue.fail(claimed, "bad payload", clock.now(), permanent=True) == "failed"
    assert (job(container, job_id).status, job(container, job_id).attempts) == ("failed", 1)


def test_an_error_longer_than_4000_characters_is_cut(container: Container, clock: FrozenClock) -> None:
    job_id = make_job(container, max_attempts=1)
    (claimed,) = container.queue.claim("w1", clock.now())
    container.queue.fail(claimed, "x" * 5000, clock.now())

    assert job(container, job_id).last_error == "x" * 4000


# ---- retry, cancel, progress -------------------------------------------------------------------


def test_retry_queues_a_failed_job_again_with_fresh_attempts(container: Container, clock: FrozenClock) -> None:
    job_id = make_job(container, max_attempts=1)
    (claimed,) = container.queue.claim("w1", clock.now())
    container.queue.fail(claimed, "boom", clock.now())
    clock.advance(hours=1)

    assert container.queue.retry(job_id, clock.now()) is True

    info = job(container, job_id)
    assert (info.status, info.attempts, info.due_at, info.finished_at, info.last_error) == (
        "queued", 0, clock.now(), None, "boom")
    assert claim_ids(container) == [job_id]


def test_only_failed_or_cancelled_jobs_can_be_retried(container: Container, clock: FrozenClock) -> None:
    queued = make_job(container)
    done = make_job(container)
    claim_ids(container, limit=50)
    container.queue.complete([done], clock.now())

    assert container.queue.retry(done, clock.now()) is False
    assert container.queue.retry(queued, clock.now()) is False  # running
    assert statuses(container) == {queued: "running", done: "done"}


def test_cancel_stops_a_queued_job_from_running(container: Container, clock: FrozenClock) -> None:
    job_id = make_job(container)

    assert container.queue.cancel(job_id, clock.now()) is True
    assert (job(container, job_id).status, job(container, job_id).finished_at) == ("cancelled", clock.now())
    assert claim_ids(container) == []
    assert container.queue.cancel(job_id, clock.now()) is False
    assert container.queue.retry(job_id, clock.now()) is True
    assert claim_ids(container) == [job_id]


def test_a_cancelled_running_job_keeps_its_status_and_is_told_to_stop(container: Container,
                                                                      clock: FrozenClock) -> None:
    job_id = make_job(container)
    (claimed,) = container.queue.claim("w1", clock.now())
    assert container.queue.report_progress(job_id, 10, 100) is True

    assert container.queue.cancel(job_id, clock.now()) is True

    assert container.queue.report_progress(job_id, 20) is False
    assert container.queue.complete([job_id], clock.now(), worker_id="w1") == 0
    assert container.queue.fail(claimed, "late", clock.now()) == "cancelled"
    info = job(container, job_id)
    assert (info.status, info.progress_done, info.progress_total, info.last_error) == ("cancelled", 10, 100, None)


def test_retry_and_cancel_restricted_to_a_workspace_leave_other_jobs_alone(container: Container,
                                                                           actors: Actors) -> None:
    now = container.clock.now()
    job_id = make_job(container, workspace_id=actors.alice.workspace_id)

    assert container.queue.cancel(job_id, now, workspace_id=actors.charlie.workspace_id) is False
    assert container.queue.cancel(job_id, now, workspace_id=actors.alice.workspace_id) is True
    assert container.queue.retry(job_id, now, workspace_id=actors.charlie.workspace_id) is False
    assert job(container, job_id).status == "cancelled"


def test_progress_is_recorded_on_the_job(container: Container, clock: FrozenClock) -> None:
    job_id = make_job(container)
    claim_ids(container)

    assert container.queue.report_progress(job_id, 250, 1000) is True
    assert container.queue.report_progress(job_id, 500) is True

    info = job(container, job_id)
    assert (info.progress_done, info.progress_total) == (500, 1000)


# ---- listing and depth ---------------------------------------------------------------------------


def test_depth_counts_due_queued_jobs_and_the_age_of_the_oldest(container: Container, clock: FrozenClock) -> None:
    assert container.queue.depth(clock.now()) == (0, 0.0)
    make_job(container, due_in=dt.timedelta(seconds=-90))
    make_job(container, due_in=dt.timedelta(seconds=-30))
    make_job(container, due_in=dt.timedelta(minutes=10))  # not due yet
    clock.advance(seconds=-120)
    running = make_job(container)  # due 120 s ago but running: not waiting
    clock.advance(seconds=120)
    container.queue.claim("w1", clock.now(), limit=1)

    assert job(container, running).status == "running"
    assert container.queue.depth(clock.now()) == (2, 90.0)


def test_jobs_are_listed_newest_first_with_filters_and_a_cursor(container: Container, actors: Actors) -> None:
    alice_ws, charlie_ws = actors.alice.workspace_id, actors.charlie.workspace_id
    ids = [make_job(container, workspace_id=alice_ws) for _ in range(5)]
    make_job(container, workspace_id=charlie_ws)
    system = make_job(container)
    container.queue.cancel(ids[1], container.clock.now())

    first = container.queue.list_jobs(alice_ws, limit=2)
    second = container.queue.list_jobs(alice_ws, limit=2, cursor=first.next_cursor)
    third = container.queue.list_jobs(alice_ws, limit=2, cursor=second.next_cursor)

    assert [j.id for j in first.items] == [ids[4], ids[3]]
    assert [j.id for j in second.items] == [ids[2], ids[1]]
    assert ([j.id for j in third.items], third.next_cursor) == ([ids[0]], None)
    assert [j.id for j in container.queue.list_jobs(alice_ws, status="cancelled").items] == [ids[1]]
    assert len(container.queue.list_jobs(None).items) == 7  # the operator sees every job
    assert container.queue.get_job(system, workspace_id=alice_ws) is None
    assert container.queue.get_job(ids[0], workspace_id=charlie_ws) is None
