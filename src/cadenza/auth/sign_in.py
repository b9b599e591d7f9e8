"""Browser sessions: signing in (with failed attempts slowed, then refused), resolving a session, signing out.

Mixed into `AccessControl`; kept apart so each file stays about one group of use cases.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from cadenza.auth.audit import record_audit
from cadenza.auth.errors import InvalidCredentials, SignInThrottled
from cadenza.auth.models import Membership, SignInThrottle, User, UserSession, Workspace
from cadenza.auth.roles import Principal, Role
from cadenza.auth.secrets import digest, new_token, verify_nothing, verify_password
from cadenza.auth.throttle import (
    ACCOUNT_LIMIT,
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
from cadenza.core.clock import Clock
from cadenza.storage import Database
from cadenza.storage.dialect import insert_ignoring_conflicts

log = logging.getLogger(__name__)

WRONG = "The email or password is not right."
# A throttle row older than this says nothing any more: every failure in it is past its window and lockout.
_FORGET_AFTER = max(max(limit.window, limit.lockout) for limit in (EMAIL_LIMIT, ACCOUNT_LIMIT, NETWORK_LIMIT))


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    csrf_token: str
    workspace_name: str


@dataclass(frozen=True)
class _Subject:
    """Who failed attempts are counted against (an email from one network, an email from any network, a client
    network), stored as a digest."""

    key: str
    limit: Limit
    is_email: bool


@dataclass(frozen=True)
class _Attempt:
    email: str
    client_ip: str | None
    subjects: list[_Subject]
    at: dt.datetime  # when it was counted (in advance, as a failure)


class SignInUseCases:
    db: Database
    clock: Clock
    session_max_age: int

    def sign_in(self, email: str, password: str, workspace_slug: str | None = None, *,
                client_ip: str | None = None) -> tuple[str, SignedIn]:
        """Checks the password and opens a session. Returns the cookie token and who signed in.

        Failed attempts are counted per email address from this network, per email address from any network
        and per client network (`auth.throttle`): past the
        limits this raises SignInThrottled, saying when to try again, without looking at the password. A wrong
        password and an unknown email take the same time, give the same answer and count the same; admins of
        the user's workspaces see failures for the user in the audit log.
        """
        email = email.strip().lower()
        attempt = _Attempt(email, client_ip, _subjects(email, client_ip), self.clock.now())
        with self.db.transaction() as session:
            _count_in_advance(session, attempt)
            found = session.execute(select(User.id, User.password_hash).where(User.email == email)).first()
        # The slow hash check runs outside any transaction (on SQLite a transaction holds the write lock).
        if found is None:
            verify_nothing(password)
            self._failed(attempt, None, "no such account")
        if not verify_password(found.password_hash, password):
            self._failed(attempt, found.id, "wrong password")
        with self.db.transaction() as session:
            opened = _open_session(session, found.id, found.password_hash, workspace_slug, self.clock.now(),
                                   self.session_max_age, client_ip)
            if not isinstance(opened, str):
                _forgive(session, attempt)
                return opened
        self._failed(attempt, found.id, opened)

    def _failed(self, attempt: _Attempt, user_id: int | None, reason: str) -> NoReturn:
        """Records a failed attempt (already counted) where admins see it, and refuses it."""
        now = self.clock.now()
        with self.db.transaction() as session:
            rows = _rows(session, attempt.subjects)
            email_subject = attempt.subjects[0]
            email_wait = next_attempt_at(_times(rows, email_subject), now, email_subject.limit)
            wait = max((w for s in attempt.subjects if (w := next_attempt_at(_times(rows, s), now, s.limit))),
                       default=None)
            if user_id is not None:
                workspace_ids = list(session.scalars(select(Membership.workspace_id)
                                                     .where(Membership.user_id == user_id)))
                changes = {"email": attempt.email, "reason": reason,
                           "failures": len(_times(rows, email_subject)),
                           "next_attempt_at": email_wait.isoformat() if email_wait else None}
                label = f"sign-in from {attempt.client_ip}" if attempt.client_ip else "sign-in"
                for workspace_id in workspace_ids:
                    record_audit(session, Principal.anonymous(workspace_id, label), "user.sign_in_failed", at=now,
                                 target_type="user", target_id=user_id, changes=changes,
                                 ip_address=attempt.client_ip)
        if user_id is None:
            log.info("failed sign-in for an address with no account, from %s", attempt.client_ip or "unknown")
        if wait is None:
            raise InvalidCredentials(WRONG)
        seconds = seconds_until(wait, now)
        raise InvalidCredentials(f"{WRONG} Too many failed attempts: try again {wait_phrase(seconds)}.",
                                 retry_after=seconds)

    def resolve_session(self, token: str) -> SignedIn | None:
        now = self.clock.now()
        with self.db.read() as session:
            row = session.execute(
                select(UserSession, User, Membership, Workspace)
                .join(User, User.id == UserSession.user_id)
                .join(Membership, (Membership.user_id == User.id)
                      & (Membership.workspace_id == UserSession.workspace_id))
                .join(Workspace, Workspace.id == UserSession.workspace_id)
                .where(UserSession.token_hash == digest(token))
            ).first()
            if row is None:
                return None
            user_session, user, membership, workspace = row
            if user_session.expires_at <= now or not user.is_active:
                return None
            principal = Principal.for_user(workspace.id, user.id, user.email, Role(membership.role))
            return SignedIn(principal, user_session.csrf_token, workspace.name)

    def sign_out(self, token: str) -> None:
        with self.db.transaction() as session:
            session.execute(delete(UserSession).where(UserSession.token_hash == digest(token)))


def _open_session(session: Session, user_id: int, password_hash: str, workspace_slug: str | None, now: dt.datetime,
                  max_age: int, client_ip: str | None) -> tuple[str, SignedIn] | str:
    """A new session for a user whose password was right: (its token, who signed in), or why not."""
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.password_hash != password_hash:
        return "deactivated"
    query = (select(Membership, Workspace).join(Workspace, Workspace.id == Membership.workspace_id)
             .where(Membership.user_id == user.id).order_by(Membership.id))
    if workspace_slug:
        query = query.where(Workspace.slug == workspace_slug)
    row = session.execute(query).first()
    if row is None:
        return "no workspace"
    membership, workspace = row
    token, csrf = new_token(), new_token()
    session.add(UserSession(token_hash=digest(token), user_id=user.id, workspace_id=workspace.id, csrf_token=csrf,
                            created_at=now, expires_at=now + dt.timedelta(seconds=max_age)))
    user.last_login_at = now
    principal = Principal.for_user(workspace.id, user.id, user.email, Role(membership.role))
    record_audit(session, principal, "user.signed_in", at=now, target_type="user", target_id=user.id,
                 ip_address=client_ip)
    return token, SignedIn(principal, csrf, workspace.name)


def _subjects(email: str, client_ip: str | None) -> list[_Subject]:
    """The email from this network first (its failures are the ones the user is told of), then the email from
    any network, then the network (when the client's address is known)."""
    network = client_network(client_ip) if client_ip else ""
    subjects = [_Subject(_email_network_prefix(email) + digest(network)[:32], EMAIL_LIMIT, is_email=True),
                _Subject(_email_key(email), ACCOUNT_LIMIT, is_email=True)]
    if client_ip:
        subjects.append(_Subject("network:" + digest(network), NETWORK_LIMIT, is_email=False))
    return subjects


def _email_key(email: str) -> str:
    return "email:" + digest(email)


def _email_network_prefix(email: str) -> str:
    """Every subject of one email from some network starts so (128 bits of each digest: 79 characters in all)."""
    return "email-network:" + digest(email)[:32] + ":"


def _counted_against(emails: Iterable[str]) -> ColumnElement[bool]:
    """The throttle rows of these emails: from any network, and from each network."""
    emails = list(emails)
    return or_(SignInThrottle.subject.in_([_email_key(email) for email in emails]),
               *(SignInThrottle.subject.like(_email_network_prefix(email) + "%") for email in emails))


def sign_in_locks(session: Session, emails: list[str], now: dt.datetime) -> dict[str, dt.datetime]:
    """Until when each of these accounts cannot sign in from some network (or from any), when it cannot now."""
    wanted = {email.strip().lower() for email in emails}
    if not wanted:
        return {}
    email_of = {key: email for email in wanted for key in (_email_key(email), _email_network_prefix(email))}
    rows = session.scalars(select(SignInThrottle).where(
        _counted_against(wanted), SignInThrottle.updated_at >= now - _FORGET_AFTER))
    locks: dict[str, dt.datetime] = {}
    for row in rows:
        is_account = row.subject in email_of
        email = email_of[row.subject if is_account else row.subject[:row.subject.rindex(":") + 1]]
        wait = next_attempt_at([dt.datetime.fromisoformat(at) for at in row.failures], now,
                               ACCOUNT_LIMIT if is_account else EMAIL_LIMIT)
        if wait is not None and (email not in locks or wait > locks[email]):
            locks[email] = wait
    return locks


def clear_sign_in_failures(session: Session, email: str) -> int:
    """Forgets the failed sign-ins counted against this email, from every network. Returns how many subjects."""
    removed = session.execute(delete(SignInThrottle).where(_counted_against([email.strip().lower()])))
    return int(getattr(removed, "rowcount", 0) or 0)


def _rows(session: Session, subjects: list[_Subject], *, lock: bool = False) -> dict[str, SignInThrottle]:
    query = (select(SignInThrottle).where(SignInThrottle.subject.in_([s.key for s in subjects]))
             .order_by(SignInThrottle.subject))
    if lock:  # PostgreSQL: one attempt at a time per subject (SQLite's writer lock already serialises)
        query = query.with_for_update()
    return {row.subject: row for row in session.scalars(query)}


def _times(rows: dict[str, SignInThrottle], subject: _Subject) -> list[dt.datetime]:
    row = rows.get(subject.key)
    return [dt.datetime.fromisoformat(at) for at in row.failures] if row is not None else []


def _count_in_advance(session: Session, attempt: _Attempt) -> None:
    """Refuses the attempt while a subject must wait; otherwise counts it as a failure until it succeeds, so
    attempts made at the same moment (from any process) cannot all get past the limits together."""
    now = attempt.at
    session.execute(delete(SignInThrottle).where(SignInThrottle.updated_at < now - _FORGET_AFTER))
    session.execute(insert_ignoring_conflicts(session, SignInThrottle, ["subject"]),
                    [{"subject": s.key, "failures": [], "updated_at": now} for s in attempt.subjects])
    rows = _rows(session, attempt.subjects, lock=True)
    waits = [w for s in attempt.subjects if (w := next_attempt_at(_times(rows, s), now, s.limit)) is not None]
    if waits:
        seconds = seconds_until(max(waits), now)
        raise SignInThrottled(f"Too many failed sign-ins. Try again {wait_phrase(seconds)}.", retry_after=seconds)
    for subject in attempt.subjects:
        row = rows[subject.key]
        row.failures = [at.isoformat() for at in with_failure(_times(rows, subject), now, subject.limit)]
        row.updated_at = now


def _forgive(session: Session, attempt: _Attempt) -> None:
    """A success clears the email's failures and takes back the attempt counted against the network."""
    rows = _rows(session, attempt.subjects, lock=True)
    for subject in attempt.subjects:
        row = rows.get(subject.key)
        if row is None:
            continue
        if subject.is_email:
            session.delete(row)
        else:
            row.failures = [at.isoformat() for at in without_failure(_times(rows, subject), attempt.at)]
