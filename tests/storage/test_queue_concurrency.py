"""Many claimers on one queue at once: no job is claimed twice, no two jobs of one key overlap.

On PostgreSQL this exercises `FOR UPDATE SKIP LOCKED` and the per-key advisory locks; on SQLite the
IMMEDIATE write lock serialises the same claims.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from itertools import pairwise

from cadenza.bootstrap import Container
from cadenza.storage.queue import enqueue_many

THREADS = 6
UNKEYED = 240
KEYS = 6
PER_KEY = 10


def test_concurrent_claimers_take_every_job_exactly_once_and_serialise_keys(container: Container) -> None:
    now = container.clock.now()
    with container.db.transaction() as session:
        enqueue_many(session, [{"kind": "t", "payload": {}} for _ in range(UNKEYED)]
                     + [{"kind": "t", "payload": {}, "key": f"contact:{i % KEYS}"} for i in range(KEYS * PER_KEY)],
                     now=now)
    total = UNKEYED + KEYS * PER_KEY
    claimed: list[int] = []
    intervals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def claimer(name: str) -> None:
        try:
            start.wait()
            idle = 0
            while idle < 20:
                jobs = container.queue.claim(name, now, limit=7)
                began = time.perf_counter()  # after the claim committed
                if not jobs:
                    idle += 1
                    time.sleep(0.01)
                    continue
                idle = 0
                time.sleep(0.005)  # "run" them
                ended = time.perf_counter()  # before the completion commits
                with lock:
                    claimed.extend(j.id for j in jobs)
                    for j in jobs:
                        if j.key is not None:
                            intervals[j.key].append((began, ended))
                container.queue.complete([j.id for j in jobs], now, worker_id=name)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    counts = Counter(claimed)
    assert [job_id for job_id, n in counts.items() if n > 1] == []
    assert len(counts) == total
    assert container.queue.depth(now) == (0, 0.0)
    for key, spans in intervals.items():
        spans.sort()
        assert len(spans) == PER_KEY, key
        overlaps = [(a, b) for a, b in pairwise(spans) if b[0] < a[1]]
        assert overlaps == [], f"jobs of {key} ran at the same time"
