"""Use cases on a workspace's members: add, list, change role/name/activity, unlock sign-in, remove.

Mixed into `AccessControl`; kept apart so each file stays about one group of use cases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadenza.auth.audit import record_audit
from cadenza.auth.errors import LastOwner
from cadenza.auth.models import Membership, User, UserSession, Workspace
from cadenza.auth.roles import Permission, Principal, Role, can_grant, granting_role
from cadenza.auth.secrets import hash_password, validate_password
from cadenza.auth.sign_in import clear_sign_in_failures, sign_in_locks
from cadenza.core.clock import Clock
from cadenza.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from cadenza.core.pagination import Page, clamp_limit, id_from_cursor, next_id_cursor
from cadenza.storage import Database


class MemberUseCases:
    db: Database
    clock: Clock

    def create_user(self, actor: Principal, email: str, password: str, role: Role, name: str = "") -> User:
        """Adds a member with `role`: a new user, or an existing one (whose password stays theirs)."""
        require(actor, Permission.ADMIN)
        _check_may_grant(actor, role)
        email = normalise_email(email)
        password_hash = hash_password(validate_password(password))  # slow on purpose: outside the transaction
        now = self.clock.now()
        try:
            with self.db.transaction() as session:
                user = session.scalar(select(User).where(User.email == email))
                if user is None:
                    user = User(email=email, name=clean_name(name), password_hash=password_hash, is_active=True,
                                created_at=now)
                    session.add(user)
                    session.flush()
                elif session.scalar(select(Membership.id).where(
                    Membership.workspace_id == actor.workspace_id, Membership.user_id == user.id)):
                    raise Conflict(f"{email} is already a member of this workspace.")
                session.add(Membership(workspace_id=actor.workspace_id, user_id=user.id, role=role, created_at=now))
                record_audit(session, actor, "user.created", at=now, target_type="user", target_id=user.id,
                             changes={"email": email, "role": str(role)})
                return user
        except IntegrityError:  # the same user added by two requests at once
            raise Conflict(f"{email} was just added by another request.")

    def get_member(self, actor: Principal, user_id: int) -> tuple[User, Role]:
        require(actor, Permission.ADMIN)
        with detached_read(self.db) as session:
            user, membership = _member(session, actor.workspace_id, user_id)
            return user, Role(membership.role)

    def list_members(self, actor: Principal) -> list[tuple[User, Role]]:
        """Every member, oldest first. Workspaces have tens of members; the API pages them anyway."""
        require(actor, Permission.ADMIN)
        with detached_read(self.db) as session:
            rows = session.execute(
                select(User, Membership.role).join(Membership, Membership.user_id == User.id)
                .where(Membership.workspace_id == actor.workspace_id).order_by(User.id)
            ).all()
            return [(user, Role(role)) for user, role in rows]

    def list_members_page(self, actor: Principal, *, limit: int | None = None,
                          cursor: str | None = None) -> Page[tuple[User, Role]]:
        require(actor, Permission.ADMIN)
        limit = clamp_limit(limit)
        query = (select(User, Membership.role).join(Membership, Membership.user_id == User.id)
                 .where(Membership.workspace_id == actor.workspace_id))
        if cursor:
            query = query.where(User.id > id_from_cursor(cursor))
        with detached_read(self.db) as session:
            rows = [(user, Role(role)) for user, role in session.execute(query.order_by(User.id).limit(limit + 1))]
        next_cursor = next_id_cursor(rows, limit, lambda row: row[0].id)
        return Page(rows[:limit], next_cursor)

    def update_member(self, actor: Principal, user_id: int, *, role: Role | None = None,
                      is_active: bool | None = None, name: str | None = None) -> tuple[User, Role]:
        """Changes a member's role, name or activity. Nobody touches a member above what they may grant."""
        require(actor, Permission.ADMIN)
        now = self.clock.now()
        with self.db.transaction() as session:
            _lock_workspace(session, actor.workspace_id)
            user, membership = _member(session, actor.workspace_id, user_id)
            current = Role(membership.role)
            changes: dict[str, object] = {}
            wants_role = role is not None and role != current
            wants_active = is_active is not None and is_active != user.is_active
            name = clean_name(name) if name is not None else None
            wants_name = name is not None and name != user.name
            if not (wants_role or wants_active or wants_name):
                return user, current
            _check_may_manage(actor, current)
            if wants_active or wants_name:
                _check_only_here(session, actor.workspace_id, user.id)
            if role is not None and wants_role:
                _check_may_grant(actor, role)
                if current is Role.OWNER:
                    _check_other_owner(session, actor.workspace_id, user.id)
                changes["role"] = [str(current), str(role)]
                membership.role = role
            if is_active is not None and wants_active:
                if not is_active and current is Role.OWNER:
                    _check_other_owner(session, actor.workspace_id, user.id)
                changes["is_active"] = [user.is_active, is_active]
                user.is_active = is_active
                if not is_active:
                    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
            if name is not None and wants_name:
                changes["name"] = [user.name, name]
                user.name = name
            record_audit(session, actor, "user.updated", at=now, target_type="user", target_id=user.id,
                         changes=changes)
            return user, Role(membership.role)

    def sign_in_locks(self, actor: Principal, users: list[User]) -> dict[int, dt.datetime]:
        """Until when each of these members cannot sign in (from some network or from any), for those who
        cannot now: too many failed attempts (`auth.throttle`)."""
        require(actor, Permission.ADMIN)
        with self.db.read() as session:
            locks = sign_in_locks(session, [user.email for user in users], self.clock.now())
        return {user.id: locks[user.email] for user in users if user.email in locks}

    def unlock_sign_in(self, actor: Principal, user_id: int) -> tuple[User, Role]:
        """Forgets a member's failed sign-ins from every network, so they can sign in again at once (say,
        after someone else's guesses locked them out). Their password stays as it is."""
        require(actor, Permission.ADMIN)
        now = self.clock.now()
        with self.db.transaction() as session:
            user, membership = _member(session, actor.workspace_id, user_id)
            current = Role(membership.role)
            _check_may_manage(actor, current)
            cleared = clear_sign_in_failures(session, user.email)
            record_audit(session, actor, "user.sign_in_unlocked", at=now, target_type="user", target_id=user.id,
                         changes={"email": user.email, "cleared": cleared})
            return user, current

    def remove_member(self, actor: Principal, user_id: int) -> None:
        """Takes a user out of this workspace and signs them out of it. The user row stays for the audit log."""
        require(actor, Permission.ADMIN)
        now = self.clock.now()
        with self.db.transaction() as session:
            _lock_workspace(session, actor.workspace_id)
            user, membership = _member(session, actor.workspace_id, user_id)
            current = Role(membership.role)
            _check_may_manage(actor, current)
            if current is Role.OWNER:
                _check_other_owner(session, actor.workspace_id, user.id)
            session.delete(membership)
            session.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                                      UserSession.workspace_id == actor.workspace_id))
            record_audit(session, actor, "user.removed", at=now, target_type="user", target_id=user.id,
                         changes={"email": user.email, "role": str(current)})


@contextmanager
def detached_read(db: Database) -> Iterator[Session]:
    """A read session whose loaded rows stay readable afterwards: detached, not expired by its rollback."""
    with db.read() as session:
        yield session
        session.expunge_all()


def require(actor: Principal, permission: Permission) -> None:
    if not actor.can(permission):
        raise PermissionDenied(f"This needs the {permission} permission.")


def clean_name(name: str, field: str = "name") -> str:
    """A display name: trimmed, at most 200 characters, no control characters (PostgreSQL refuses NUL)."""
    name = name.strip()
    if len(name) > 200 or any(ord(ch) < 32 for ch in name):
        raise ValidationFailed(f"The {field} has at most 200 characters and no control characters.",
                               errors=[{"field": field}])
    return name


def normalise_email(email: str) -> str:
    """Lower-cased and trimmed. The API checks the address strictly; this catches what other callers pass."""
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or "@" in domain or len(email) > 320 \
            or any(ch.isspace() or ord(ch) < 32 for ch in email):
        raise ValidationFailed(f"{email!r} is not an email address.", errors=[{"field": "email"}])
    return email


def _member(session: Session, workspace_id: int, user_id: int) -> tuple[User, Membership]:
    row = session.execute(
        select(User, Membership).join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace_id, User.id == user_id)
    ).first()
    if row is None:
        raise NotFound(f"No user {user_id} in this workspace.")
    return row[0], row[1]


def _lock_workspace(session: Session, workspace_id: int) -> None:
    """Serialises membership changes in one workspace (PostgreSQL row lock; SQLite's BEGIN IMMEDIATE already does)."""
    session.execute(select(Workspace.id).where(Workspace.id == workspace_id).with_for_update())


def _check_may_grant(actor: Principal, role: Role) -> None:
    if not can_grant(granting_role(actor), role):
        raise PermissionDenied("Only an owner (signed in, not with an API key) makes owners."
                               if role is Role.OWNER else f"You cannot grant the {role} role.")


def _check_may_manage(actor: Principal, current: Role) -> None:
    if not can_grant(granting_role(actor), current):
        raise PermissionDenied("Only an owner (signed in, not with an API key) changes an owner."
                               if current is Role.OWNER else f"You cannot change a member who is {current}.")


def _check_other_owner(session: Session, workspace_id: int, user_id: int) -> None:
    others = session.scalar(
        select(func.count()).select_from(Membership).join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id == workspace_id, Membership.role == Role.OWNER,
               Membership.user_id != user_id, User.is_active.is_(True))
    )
    if not others:
        raise LastOwner("A workspace keeps at least one active owner: make another member owner first.")


def _check_only_here(session: Session, workspace_id: int, user_id: int) -> None:
    """A user's name and activity are theirs in every workspace: only a workspace they alone belong to sets them."""
    elsewhere = session.scalar(select(Membership.id).where(Membership.user_id == user_id,
                                                           Membership.workspace_id != workspace_id).limit(1))
    if elsewhere is not None:
        raise Conflict("This user also belongs to another workspace: remove them from this one instead.")
