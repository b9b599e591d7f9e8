"""How fast someone may guess passwords: failed sign-ins are slowed, then refused for a while. Pure: no I/O.

Each subject (an email address, a client network) keeps the times of its recent failures. From `slow_after`
failures within `window` on, the next attempt must wait, twice as long after each further failure; after
`max_failures` within `window`, attempts are refused for `lockout` after the last of them. Because the lockout
lasts at least a window, no window of that length ever holds more than `max_failures` failures (a property
test checks it). The caller counts an attempt as a failure before checking the password and takes it back on
success, so attempts made at the same moment cannot slip through together.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    max_failures: int  # this many failures within `window` refuse attempts …
    window: dt.timedelta
    lockout: dt.timedelta  # … for this long after the last of them (at least `window`)
    slow_after: int  # from this many failures within `window` on, the next attempt waits …
    first_delay: dt.timedelta  # … this long after the last failure, doubling with each further one,
    max_delay: dt.timedelta  # up to this

    def __post_init__(self) -> None:
        if not 1 <= self.slow_after <= self.max_failures:
            raise ValueError("slow_after is between 1 and max_failures")
        if self.lockout < self.window:
            raise ValueError("a lockout shorter than the window would let failures trickle past the limit")

    def delay(self, failures: int) -> dt.timedelta:
        """How long the attempt after `failures` recent failures waits (zero before `slow_after`)."""
        if failures < self.slow_after:
            return dt.timedelta(0)
        steps = min(failures - self.slow_after, 32)  # 2**32 first delays is past any max_delay
        return min(self.first_delay * 2**steps, self.max_delay)


# Per email address from one client network: the 3rd and 4th failures in 15 minutes make the next attempt wait
# 5 s, then 10 s; the 5th refuses attempts for 15 minutes. Someone on another network is not locked out by them.
# Per email address from any network: slowed from the 10th failure in an hour, refused for an hour after the
# 30th (guessing spread over many networks). Per client network: slowed from the 10th failure in 15 minutes,
# refused from the 20th.
EMAIL_LIMIT = Limit(max_failures=5, window=dt.timedelta(minutes=15), lockout=dt.timedelta(minutes=15),
                    slow_after=3, first_delay=dt.timedelta(seconds=5), max_delay=dt.timedelta(minutes=1))
ACCOUNT_LIMIT = Limit(max_failures=30, window=dt.timedelta(hours=1), lockout=dt.timedelta(hours=1),
                      slow_after=10, first_delay=dt.timedelta(seconds=5), max_delay=dt.timedelta(minutes=1))
NETWORK_LIMIT = Limit(max_failures=20, window=dt.timedelta(minutes=15), lockout=dt.timedelta(minutes=15),
                      slow_after=10, first_delay=dt.timedelta(seconds=5), max_delay=dt.timedelta(minutes=1))


def next_attempt_at(failures: Sequence[dt.datetime], now: dt.datetime, limit: Limit) -> dt.datetime | None:
    """When the next attempt may be made, or None when it may be made now. `failures`: oldest first."""
    if len(failures) >= limit.max_failures:
        last = failures[-limit.max_failures:]
        locked_until = last[-1] + limit.lockout
        if last[-1] - last[0] < limit.window and locked_until > now:
            return locked_until
    recent = [at for at in failures if at > now - limit.window]
    if recent:
        slowed_until = recent[-1] + limit.delay(len(recent))
        if slowed_until > now:
            return slowed_until
    return None


def with_failure(failures: Sequence[dt.datetime], at: dt.datetime, limit: Limit) -> list[dt.datetime]:
    """The failures after one more at `at`: the newest `max_failures`, which is all the rules look at."""
    return sorted([*failures, at])[-limit.max_failures:]


def without_failure(failures: Sequence[dt.datetime], at: dt.datetime) -> list[dt.datetime]:
    """The failures with one at `at` taken back (an attempt counted in advance that succeeded)."""
    kept = list(failures)
    if at in kept:
        kept.reverse()
        kept.remove(at)
        kept.reverse()
    return kept


def seconds_until(at: dt.datetime, now: dt.datetime) -> int:
    """Whole seconds from `now` to `at`, rounded up (a Retry-After value): at least 1."""
    return max(1, math.ceil((at - now).total_seconds()))


def wait_phrase(seconds: int) -> str:
    """'in 5 seconds', 'in 1 minute', 'in 15 minutes' (rounded up to the minute past a minute)."""
    if seconds < 60:
        return f"in {seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"in {minutes} minute{'s' if minutes != 1 else ''}"


def client_network(address: str) -> str:
    """The network a client address stands for: an IPv4 address itself, an IPv6 address's /64 (one host
    commonly holds a whole /64). Anything that is not an IP address is kept as it is."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
