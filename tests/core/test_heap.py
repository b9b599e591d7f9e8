"""Freezing the process's long-lived objects for the collector while bulk jobs run, and thawing them after."""

from __future__ import annotations

import gc

import pytest

from cadenza.core.heap import long_lived_objects_frozen


def test_objects_are_frozen_while_jobs_run_and_thawed_when_the_last_one_ends() -> None:
    assert gc.get_freeze_count() == 0

    with long_lived_objects_frozen():
        assert gc.get_freeze_count() > 0
        with long_lived_objects_frozen():  # a second job in another thread of the process
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() > 0  # the other job still runs

    assert gc.get_freeze_count() == 0


def test_a_job_that_fails_thaws_them_too() -> None:
    with pytest.raises(RuntimeError), long_lived_objects_frozen():
        assert gc.get_freeze_count() > 0
        raise RuntimeError("chunk failed")

    assert gc.get_freeze_count() == 0


def test_a_small_job_leaves_the_collector_alone() -> None:
    with long_lived_objects_frozen(enabled=False):
        assert gc.get_freeze_count() == 0
