"""Failed sign-ins are slowed, then refused for a while, per email address and per client network.

The state lives in the database, so every process counts the same attempts; time comes from the frozen clock.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from cadenza.auth import Principal, Role
from cadenza.auth.errors import InvalidCredentials, SignInThrottled
from cadenza.auth.models import AuditEntry, SignInThrottle, UserSession
from cadenza.bootstrap import Container
from cadenza.core.clock import FrozenClock
from cadenza.core.errors import NotFound, PermissionDenied
from tests.conftest import Actors

ALICE = "alice@acme.test"
IP = "203.0.113.7"


def _fail(container: Container, email: str = ALICE, ip: str | None = IP) -> InvalidCredentials:
    with pytest.raises(InvalidCredentials) as caught:
        container.access.sign_in(email, "not the password", client_ip=ip)
    return caught.value


def _refused(container: Container, email: str, password: str, ip: str | None = IP) -> SignInThrottled:
    with pytest.raises(SignInThrottled) as caught:
        container.access.sign_in(email, password, client_ip=ip)
    return caught.value


def _five_failures(container: Container, clock: FrozenClock, email: str = ALICE, ip: str | None = IP) -> None:
    """Five failures within two minutes, each made as soon as it is allowed (the 4th and 5th wait 5 and 10 s)."""
    for wait in (0, 0, 0, 5, 10):
        clock.advance(seconds=wait)
        _fail(container, email, ip)


def _sessions(container: Container) -> int:
    with container.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(UserSession)) or 0)


def test_five_failures_refuse_even_the_right_password_for_fifteen_minutes(container: Container, actors: Actors,
                                                                         clock: FrozenClock) -> None:
    _five_failures(container, clock)

    clock.advance(seconds=1)
    refused = _refused(container, ALICE, actors.alice.password)
    assert refused.status == 429
    assert refused.retry_after == 15 * 60 - 1
    assert refused.headers == {"Retry-After": "899"}
    assert refused.detail == "Too many failed sign-ins. Try again in 15 minutes."
    assert _sessions(container) == 0

    clock.advance(seconds=899)
    container.access.sign_in(ALICE, actors.alice.password, client_ip=IP)
    assert _sessions(container) == 1


def test_the_third_failure_makes_the_next_attempt_wait_and_says_so(container: Container, actors: Actors) -> None:
    assert _fail(container).extra == {}
    _fail(container)
    third = _fail(container)

    assert third.extra == {"retry_after": 5}
    assert third.detail == "The email or password is not right. Too many failed attempts: try again in 5 seconds."
    assert _refused(container, ALICE, actors.alice.password).retry_after == 5


def test_a_success_clears_the_email_s_failures(container: Container, actors: Actors, clock: FrozenClock) -> None:
    _fail(container)
    _fail(container)
    container.access.sign_in(ALICE, actors.alice.password, client_ip=IP)

    _fail(container)
    _fail(container)  # two more: had the first two still counted, this would be the 4th and have to wait
    with container.db.read() as session:
        rows = list(session.scalars(select(SignInThrottle)))
    # the email's two from this network and from any network, the network's four
    assert sorted(len(row.failures) for row in rows) == [2, 2, 4]


def test_failures_from_one_network_do_not_lock_the_account_out_on_another(container: Container, actors: Actors,
                                                                          clock: FrozenClock) -> None:
    _five_failures(container, clock)
    clock.advance(seconds=1)
    _refused(container, ALICE, actors.alice.password)

    container.access.sign_in(ALICE, actors.alice.password, client_ip="198.51.100.20")

    assert _sessions(container) == 1


def test_guessing_spread_over_many_networks_is_capped_per_account(container: Container, actors: Actors,
                                                                  clock: FrozenClock) -> None:
    _lock_out_everywhere(container, clock)

    refused = _refused(container, ALICE, actors.alice.password, ip="192.0.2.200")
    assert refused.retry_after is not None and refused.retry_after > 59 * 60
    clock.advance(seconds=refused.retry_after)
    container.access.sign_in(ALICE, actors.alice.password, client_ip="192.0.2.200")


def test_an_unknown_email_is_throttled_exactly_like_a_known_one(container: Container, actors: Actors,
                                                               clock: FrozenClock) -> None:
    answers = []
    for email in (ALICE, "nobody@acme.test"):
        problems = [_fail(container, email, ip=None).to_problem() for _ in range(3)]
        problems.append(_refused(container, email, "whatever", ip=None).to_problem())
        answers.append(problems)
        clock.advance(minutes=30)
    assert answers[0] == answers[1]


def test_twenty_failures_from_one_network_refuse_it_but_not_another(container: Container, actors: Actors,
                                                                    clock: FrozenClock) -> None:
    # Each email fails once; the network 20 times, each as soon as allowed (from the 10th on it waits).
    for n, wait in enumerate([0] * 10 + [5, 10, 20, 40, 60, 60, 60, 60, 60, 60]):
        clock.advance(seconds=wait)
        _fail(container, f"guess{n}@acme.test", ip="2001:db8:5:6::1")

    clock.advance(seconds=1)
    # Another address in the same /64 is the same network.
    refused = _refused(container, ALICE, actors.alice.password, ip="2001:db8:5:6::99")
    assert refused.detail == "Too many failed sign-ins. Try again in 15 minutes."
    container.access.sign_in(ALICE, actors.alice.password, client_ip="2001:db8:5:7::1")


def test_successes_from_a_network_do_not_count_against_it(container: Container, actors: Actors,
                                                           clock: FrozenClock) -> None:
    for _ in range(30):  # an office behind one address, signing in all morning
        clock.advance(seconds=1)
        container.access.sign_in(actors.bob.email, actors.bob.password, client_ip=IP)
    with container.db.read() as session:
        assert [row.failures for row in session.scalars(select(SignInThrottle))] == [[]]


def test_failures_counted_by_one_process_hold_in_another(container: Container, actors: Actors,
                                                         other_process: Container, clock: FrozenClock) -> None:
    for wait, process in zip((0, 0, 0, 5, 10), (container, other_process) * 3, strict=False):
        clock.advance(seconds=wait)
        _fail(process)

    _refused(other_process, ALICE, actors.alice.password)
    _refused(container, ALICE, actors.alice.password)


def test_attempts_at_the_same_moment_cannot_slip_past_the_limit(container: Container, actors: Actors,
                                                                other_process: Container) -> None:
    """Ten wrong passwords at once, through two processes: three are checked, then each must wait."""
    outcomes: Counter[str] = Counter()
    start = threading.Barrier(10)

    def attempt(process: Container) -> None:
        start.wait()
        try:
            process.access.sign_in(ALICE, "not the password", client_ip=IP)
        except InvalidCredentials:
            outcomes["checked"] += 1
        except SignInThrottled:
            outcomes["refused"] += 1

    threads = [threading.Thread(target=attempt, args=((container, other_process)[n % 2],)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {"checked": 3, "refused": 7}


def test_failures_are_in_the_audit_log_of_the_user_s_workspaces_only(container: Container, actors: Actors,
                                                                     clock: FrozenClock) -> None:
    _five_failures(container, clock)
    _fail(container, "nobody@acme.test")
    clock.advance(seconds=1)
    _refused(container, ALICE, actors.alice.password)

    with container.db.read() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "user.sign_in_failed")
                                       .order_by(AuditEntry.id)))
    assert [e.workspace_id for e in entries] == [actors.alice.workspace_id] * 5
    last = entries[-1]
    assert (last.actor_type, last.actor_id, last.actor_label) == ("anonymous", None, f"sign-in from {IP}")
    assert (last.target_type, last.target_id, last.ip_address) == ("user", str(actors.alice.principal.id), IP)
    assert last.changes == {"email": ALICE, "reason": "wrong password", "failures": 5,
                            "next_attempt_at": "2026-01-01T12:15:15+00:00"}
    assert [e.changes["next_attempt_at"] for e in entries[:3]] == [None, None, "2026-01-01T12:00:05+00:00"]


def test_a_deactivated_user_s_right_password_is_a_failure(container: Container, actors: Actors) -> None:
    container.access.update_member(actors.alice.principal, actors.bob.principal.id or 0, is_active=False)
    _fail_with = pytest.raises(InvalidCredentials)
    with _fail_with:
        container.access.sign_in(actors.bob.email, actors.bob.password, client_ip=IP)
    with container.db.read() as session:
        reasons = list(session.scalars(select(AuditEntry.changes).where(AuditEntry.action == "user.sign_in_failed")))
    assert reasons == [{"email": actors.bob.email, "reason": "deactivated", "failures": 1, "next_attempt_at": None}]


def _lock_out_everywhere(container: Container, clock: FrozenClock, email: str = ALICE) -> None:
    """Thirty failures spread over networks (three from each, as soon as allowed): refused from any network."""
    failures, attempt = 0, 0
    while failures < 30:
        try:
            container.access.sign_in(email, "not the password", client_ip=f"198.51.100.{attempt // 3}")
        except SignInThrottled as refused:
            clock.advance(seconds=refused.retry_after or 1)
            continue
        except InvalidCredentials:
            failures += 1
        attempt += 1


def test_an_admin_sees_until_when_a_member_is_locked_out_and_unlocks_them(container: Container, actors: Actors,
                                                                          clock: FrozenClock) -> None:
    admin, bob = actors.alice.principal, actors.bob
    bob_user = next(user for user, _role in container.access.list_members(admin) if user.email == bob.email)
    assert container.access.sign_in_locks(admin, [bob_user]) == {}
    _lock_out_everywhere(container, clock, bob.email)
    locks = container.access.sign_in_locks(admin, [bob_user])
    assert set(locks) == {bob_user.id} and locks[bob_user.id] > clock.now() + dt.timedelta(minutes=59)
    _refused(container, bob.email, bob.password, ip="192.0.2.200")

    container.access.unlock_sign_in(admin, bob_user.id)

    assert container.access.sign_in_locks(admin, [bob_user]) == {}
    container.access.sign_in(bob.email, bob.password, client_ip="192.0.2.200")
    container.access.sign_in(bob.email, bob.password, client_ip="198.51.100.0")  # a network it was locked on too
    with container.db.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.sign_in_unlocked")).one()
    assert entry.target_id == str(bob_user.id) and entry.actor_label == actors.alice.email


def test_a_lock_on_one_network_shows_and_unlocking_forgets_only_that_member(container: Container, actors: Actors,
                                                                            clock: FrozenClock) -> None:
    admin = actors.alice.principal
    members = {user.email: user for user, _role in container.access.list_members(admin)}
    _five_failures(container, clock, actors.bob.email)
    _five_failures(container, clock, ALICE, ip="192.0.2.9")
    assert set(container.access.sign_in_locks(admin, list(members.values()))) == {
        members[actors.bob.email].id, members[ALICE].id}

    container.access.unlock_sign_in(admin, members[actors.bob.email].id)

    assert set(container.access.sign_in_locks(admin, list(members.values()))) == {members[ALICE].id}
    container.access.sign_in(actors.bob.email, actors.bob.password, client_ip=IP)
    _refused(container, ALICE, actors.alice.password, ip="192.0.2.9")


def test_only_an_admin_unlocks_and_only_an_owner_unlocks_an_owner(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    dave_user = container.access.create_user(alice, "dave@acme.test", "a long enough password", Role.ADMIN, "Dave")
    dave = Principal.for_user(alice.workspace_id, dave_user.id, dave_user.email, Role.ADMIN)
    members = {user.email: user for user, _role in container.access.list_members(alice)}

    with pytest.raises(PermissionDenied):
        container.access.unlock_sign_in(actors.bob.principal, members[actors.bob.email].id)
    with pytest.raises(PermissionDenied):
        container.access.sign_in_locks(actors.bob.principal, list(members.values()))
    with pytest.raises(PermissionDenied):
        container.access.unlock_sign_in(dave, members[ALICE].id)
    container.access.unlock_sign_in(dave, members[actors.bob.email].id)
    with pytest.raises(NotFound):
        container.access.unlock_sign_in(actors.charlie.principal, members[actors.bob.email].id)
