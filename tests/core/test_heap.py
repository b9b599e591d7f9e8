"""Freezing the process's long-lived objects for the collector while bulk jobs run, and thawing them after."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from cadenza.core.heap import THRESHOLDS, long_lived_objects_frozen


def test_objects_are_frozen_while_jobs_run_and_thawed_when_the_last_one_ends() -> None:
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()

    with long_lived_objects_frozen():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == THRESHOLDS
        with long_lived_objects_frozen():  # a second job in another thread of the process
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() > 0  # the other job still runs
        assert gc.get_threshold() == THRESHOLDS

    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_job_that_fails_thaws_them_too() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), long_lived_objects_frozen():
        assert gc.get_freeze_count() > 0
        raise RuntimeError("chunk failed")

    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_small_job_leaves_the_collector_alone() -> None:
    with long_lived_objects_frozen(enabled=False):
        assert gc.get_freeze_count() == 0


_SERVER = """
import gc, weakref
from cadenza.core.heap import THRESHOLDS, long_lived_objects_frozen, settle_server_heap

settle_server_heap()
frozen = gc.get_freeze_count()
assert frozen > 0, frozen
assert gc.get_threshold() == THRESHOLDS, gc.get_threshold()
with long_lived_objects_frozen():  # an import in the server process
    assert gc.get_freeze_count() == frozen, "a job froze more objects for good"
assert gc.get_freeze_count() == frozen, "a job that ended thawed the server's start-up objects"
assert gc.get_threshold() == THRESHOLDS

class Node:
    pass

a, b = Node(), Node()
a.other, b.other = b, a  # a cycle made after start-up is still collected
gone = weakref.ref(a)
del a, b
gc.collect()
assert gone() is None
print("ok")
"""


def test_a_server_freezes_its_start_up_objects_for_good_and_still_collects_later_cycles() -> None:
    # In a process of its own: the collector's settings are the whole process's.
    done = subprocess.run([sys.executable, "-c", _SERVER], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
