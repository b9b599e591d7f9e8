"""The sign-in throttle's rules (pure): slowed, then refused; never more failures in a window than the limit."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.auth.throttle import (
    EMAIL_LIMIT,
    NETWORK_LIMIT,
    Limit,
    client_network,
    next_attempt_at,
    seconds_until,
    wait_phrase,
    with_failure,
    without_failure,
)

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _fail(failures: list[dt.datetime], seconds: float, limit: Limit = EMAIL_LIMIT) -> list[dt.datetime]:
    assert next_attempt_at(failures, _at(seconds), limit) is None, "the attempt should be allowed"
    return with_failure(failures, _at(seconds), limit)


def test_an_email_is_slowed_after_three_failures_and_refused_for_fifteen_minutes_after_five() -> None:
    failures = _fail(_fail([], 0), 1)
    assert next_attempt_at(failures, _at(2), EMAIL_LIMIT) is None
    failures = _fail(failures, 2)
    assert next_attempt_at(failures, _at(3), EMAIL_LIMIT) == _at(7)  # 5 s after the 3rd failure
    failures = _fail(failures, 7)
    assert next_attempt_at(failures, _at(8), EMAIL_LIMIT) == _at(17)  # 10 s after the 4th
    failures = _fail(failures, 17)
    assert next_attempt_at(failures, _at(18), EMAIL_LIMIT) == _at(17 + 15 * 60)  # refused for 15 minutes
    assert next_attempt_at(failures, _at(17 + 15 * 60), EMAIL_LIMIT) is None


def test_failures_spread_over_more_than_a_window_never_lock() -> None:
    failures: list[dt.datetime] = []
    for n in range(12):
        failures = _fail(failures, n * 8 * 60)  # one failure every 8 minutes: at most 2 in any window
    assert len(failures) == EMAIL_LIMIT.max_failures


def test_a_network_is_slowed_from_its_tenth_failure_and_refused_after_its_twentieth() -> None:
    failures: list[dt.datetime] = []
    clock = 0.0
    for n in range(NETWORK_LIMIT.max_failures):
        wait = next_attempt_at(failures, _at(clock), NETWORK_LIMIT)
        assert (wait is None) == (n < NETWORK_LIMIT.slow_after), n
        clock = (wait - T0).total_seconds() if wait else clock
        failures = _fail(failures, clock, NETWORK_LIMIT)
    assert next_attempt_at(failures, _at(clock), NETWORK_LIMIT) == _at(clock + 15 * 60)


def test_taking_back_a_failure_removes_one_at_that_time() -> None:
    failures = [_at(0), _at(5), _at(5)]
    assert without_failure(failures, _at(5)) == [_at(0), _at(5)]
    assert without_failure(failures, _at(9)) == failures


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"slow_after": 0}, "slow_after"), ({"slow_after": 6}, "slow_after"),
    ({"lockout": dt.timedelta(minutes=5)}, "lockout")], ids=["slow-after-zero", "slow-after-past-max", "short-lock"])
def test_a_limit_that_would_leak_is_refused(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"max_failures": 5, "window": dt.timedelta(minutes=15),
                               "lockout": dt.timedelta(minutes=15), "slow_after": 3,
                               "first_delay": dt.timedelta(seconds=5), "max_delay": dt.timedelta(minutes=1)}
    with pytest.raises(ValueError, match=message):
        Limit(**{**base, **kwargs})  # type: ignore[arg-type]


limits = st.sampled_from([EMAIL_LIMIT, NETWORK_LIMIT,
                          Limit(3, dt.timedelta(minutes=1), dt.timedelta(minutes=2), 1, dt.timedelta(seconds=1),
                                dt.timedelta(seconds=8))])
gaps = st.lists(st.floats(min_value=0, max_value=1200, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(limit=limits, gaps=gaps)
def test_no_window_ever_holds_more_failures_than_the_limit(limit: Limit, gaps: list[float]) -> None:
    """Someone who tries at any moments they like, failing each time, gets at most `max_failures` tries into
    any stretch of `window`; and an attempt refused until T is allowed at T."""
    failures: list[dt.datetime] = []
    admitted: list[dt.datetime] = []
    now = T0
    for gap in gaps:
        now += dt.timedelta(seconds=gap)
        wait = next_attempt_at(failures, now, limit)
        if wait is not None:
            assert wait > now
            assert next_attempt_at(failures, wait, limit) is None
            continue
        failures = with_failure(failures, now, limit)
        admitted.append(now)
    for start, first in enumerate(admitted):
        within = [at for at in admitted[start:] if at - first < limit.window]
        assert len(within) <= limit.max_failures


@pytest.mark.parametrize(("seconds", "phrase"), [(1, "in 1 second"), (5, "in 5 seconds"), (59, "in 59 seconds"),
                                                 (60, "in 1 minute"), (61, "in 2 minutes"), (900, "in 15 minutes")])
def test_wait_phrase(seconds: int, phrase: str) -> None:
    assert wait_phrase(seconds) == phrase


def test_seconds_until_rounds_up_and_is_at_least_one() -> None:
    assert seconds_until(_at(4.2), T0) == 5
    assert seconds_until(T0, T0) == 1


@pytest.mark.parametrize(("address", "network"), [
    ("203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    ("testclient", "testclient"),
], ids=["ipv4", "ipv6", "ipv6-same-64", "ipv4-mapped", "not-an-ip"])
def test_client_network(address: str, network: str) -> None:
    assert client_network(address) == network
