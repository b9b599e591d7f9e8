"""Use cases of access control: workspaces, users, sessions, API keys, the audit log."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from cadenza.auth.audit import record_audit
from cadenza.auth.errors import InvalidApiKey, InvalidCredentials, LastOwner
from cadenza.auth.models import ApiKey, AuditEntry, Membership, User, UserSession, Workspace
from cadenza.auth.roles import Permission, Principal, Role, Scope, can_grant
from cadenza.auth.secrets import digest, hash_password, new_api_key, new_token, verify_password
from cadenza.core.clock import Clock
from cadenza.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from cadenza.core.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from cadenza.core.text import slugify
from cadenza.storage import Database


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    csrf_token: str
    workspace_name: str


class AccessControl:
    """Builds principals from credentials and manages who may do what."""

    KEY_CACHE_SECONDS = 30.0

    def __init__(self, db: Database, clock: Clock, session_max_age: int = 14 * 24 * 3600) -> None:
        self.db = db
        self.clock = clock
        self.session_max_age = session_max_age
        self._key_cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    # ---- workspaces and users -------------------------------------------------------------

    def create_workspace(self, name: str, owner_email: str, owner_password: str, owner_name: str = "") -> Principal:
        """A new workspace with its first owner (a new or existing user)."""
        now = self.clock.now()
        with self.db.transaction() as session:
            slug = self._free_slug(session, slugify(name) or "workspace")
            workspace = Workspace(name=name, slug=slug, created_at=now)
            session.add(workspace)
            user = session.scalar(select(User).where(User.email == owner_email.lower()))
            if user is None:
                user = User(
                    email=owner_email.lower(), name=owner_name, password_hash=hash_password(owner_password),
                    is_active=True, created_at=now,
                )
                session.add(user)
            session.flush()
            session.add(Membership(workspace_id=workspace.id, user_id=user.id, role=Role.OWNER, created_at=now))
            principal = Principal.for_user(workspace.id, user.id, user.email, Role.OWNER)
            record_audit(session, principal, "workspace.created", at=now, target_type="workspace",
                         target_id=workspace.id, changes={"name": name})
            return principal

    @staticmethod
    def _free_slug(session, base: str) -> str:  # type: ignore[no-untyped-def]
        slug, n = base, 1
        while session.scalar(select(Workspace.id).where(Workspace.slug == slug)) is not None:
            n += 1
            slug = f"{base}-{n}"
        return slug

    def create_user(self, actor: Principal, email: str, password: str, role: Role, name: str = "") -> User:
        self._require(actor, Permission.ADMIN)
        if actor.role is not None and not can_grant(actor.role, role):
            raise PermissionDenied(f"A {actor.role} cannot grant the {role} role.")
        now = self.clock.now()
        email = email.strip().lower()
        with self.db.transaction() as session:
            user = session.scalar(select(User).where(User.email == email))
            if user is None:
                user = User(email=email, name=name, password_hash=hash_password(password), is_active=True,
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

    def update_member(self, actor: Principal, user_id: int, *, role: Role | None = None,
                      is_active: bool | None = None, name: str | None = None) -> tuple[User, Role]:
        self._require(actor, Permission.ADMIN)
        now = self.clock.now()
        with self.db.transaction() as session:
            row = session.execute(
                select(User, Membership).join(Membership, Membership.user_id == User.id)
                .where(Membership.workspace_id == actor.workspace_id, User.id == user_id)
            ).first()
            if row is None:
                raise NotFound(f"No user {user_id} in this workspace.")
            user, membership = row
            changes: dict[str, object] = {}
            if role is not None and role != membership.role:
                if actor.role is not None and (not can_grant(actor.role, role)
                                               or not can_grant(actor.role, Role(membership.role))):
                    raise PermissionDenied(f"A {actor.role} cannot change this member to {role}.")
                if membership.role == Role.OWNER and self._owner_count(session, actor.workspace_id) <= 1:
                    raise LastOwner("Make another member owner first.")
                changes["role"] = [membership.role, str(role)]
                membership.role = role
            if is_active is not None and is_active != user.is_active:
                changes["is_active"] = [user.is_active, is_active]
                user.is_active = is_active
                if not is_active:
                    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
            if name is not None and name != user.name:
                changes["name"] = [user.name, name]
                user.name = name
            if changes:
                record_audit(session, actor, "user.updated", at=now, target_type="user", target_id=user.id,
                             changes=changes)
            return user, Role(membership.role)

    @staticmethod
    def _owner_count(session, workspace_id: int) -> int:  # type: ignore[no-untyped-def]
        return int(session.scalar(select(func.count()).select_from(Membership).where(
            Membership.workspace_id == workspace_id, Membership.role == Role.OWNER)) or 0)

    def list_members(self, actor: Principal) -> list[tuple[User, Role]]:
        self._require(actor, Permission.ADMIN)
        with self.db.read() as session:
            rows = session.execute(
                select(User, Membership.role).join(Membership, Membership.user_id == User.id)
                .where(Membership.workspace_id == actor.workspace_id).order_by(User.id)
            ).all()
            return [(user, Role(role)) for user, role in rows]

    # ---- browser sessions -----------------------------------------------------------------

    def sign_in(self, email: str, password: str, workspace_slug: str | None = None) -> tuple[str, SignedIn]:
        """Checks the password and opens a session. Returns the cookie token and who signed in."""
        now = self.clock.now()
        with self.db.transaction() as session:
            user = session.scalar(select(User).where(User.email == email.strip().lower()))
            if user is None or not user.is_active or not verify_password(user.password_hash, password):
                raise InvalidCredentials("The email or password is not right.")
            query = (select(Membership, Workspace).join(Workspace, Workspace.id == Membership.workspace_id)
                     .where(Membership.user_id == user.id).order_by(Membership.id))
            if workspace_slug:
                query = query.where(Workspace.slug == workspace_slug)
            row = session.execute(query).first()
            if row is None:
                raise InvalidCredentials("This user belongs to no workspace.")
            membership, workspace = row
            token, csrf = new_token(), new_token()
            session.add(UserSession(
                token_hash=digest(token), user_id=user.id, workspace_id=workspace.id, csrf_token=csrf,
                created_at=now, expires_at=now + dt.timedelta(seconds=self.session_max_age),
            ))
            user.last_login_at = now
            principal = Principal.for_user(workspace.id, user.id, user.email, Role(membership.role))
            record_audit(session, principal, "user.signed_in", at=now, target_type="user", target_id=user.id)
            return token, SignedIn(principal, csrf, workspace.name)

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

    # ---- API keys ---------------------------------------------------------------------------

    def create_api_key(self, actor: Principal, name: str, scope: Scope) -> tuple[ApiKey, str]:
        """Returns the stored key and the full secret, which is never shown again."""
        self._require(actor, Permission.ADMIN)
        if not name.strip():
            raise ValidationFailed("A key needs a name.", errors=[{"field": "name"}])
        raw, prefix = new_api_key()
        now = self.clock.now()
        with self.db.transaction() as session:
            key = ApiKey(
                workspace_id=actor.workspace_id, name=name.strip(), prefix=prefix, key_hash=digest(raw),
                scope=scope, created_by_user_id=actor.id if actor.kind == "user" else None, created_at=now,
            )
            session.add(key)
            session.flush()
            record_audit(session, actor, "api_key.created", at=now, target_type="api_key", target_id=key.id,
                         changes={"name": key.name, "scope": str(scope), "prefix": prefix})
            return key, raw

    def revoke_api_key(self, actor: Principal, key_id: int) -> ApiKey:
        self._require(actor, Permission.ADMIN)
        now = self.clock.now()
        with self.db.transaction() as session:
            key = session.scalar(select(ApiKey).where(ApiKey.id == key_id,
                                                      ApiKey.workspace_id == actor.workspace_id))
            if key is None:
                raise NotFound(f"No API key {key_id} in this workspace.")
            if key.revoked_at is None:
                key.revoked_at = now
                record_audit(session, actor, "api_key.revoked", at=now, target_type="api_key",
                             target_id=key.id, changes={"prefix": key.prefix})
        with self._lock:
            self._key_cache = {k: v for k, v in self._key_cache.items() if v[1].id != key_id}
        return key

    def list_api_keys(self, actor: Principal) -> list[ApiKey]:
        self._require(actor, Permission.ADMIN)
        with self.db.read() as session:
            return list(session.scalars(select(ApiKey).where(ApiKey.workspace_id == actor.workspace_id)
                                        .order_by(ApiKey.id.desc())))

    def authenticate_api_key(self, raw: str) -> Principal:
        """The principal for a key. Cached briefly: ingest calls this on every request."""
        key_digest = digest(raw)
        now_mono = time.monotonic()
        cached = self._key_cache.get(key_digest)
        if cached and cached[0] > now_mono:
            return cached[1]
        with self.db.read() as session:
            key = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_digest))
        if key is None or key.revoked_at is not None:
            raise InvalidApiKey("The API key is unknown or revoked.")
        principal = Principal.for_api_key(key.workspace_id, key.id, f"key {key.prefix} ({key.name})",
                                          Scope(key.scope))
        with self.db.transaction() as session:
            session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=self.clock.now()))
        with self._lock:
            self._key_cache[key_digest] = (now_mono + self.KEY_CACHE_SECONDS, principal)
        return principal

    # ---- audit log --------------------------------------------------------------------------

    def list_audit(self, actor: Principal, *, limit: int | None = None, cursor: str | None = None,
                   action: str | None = None) -> Page[AuditEntry]:
        self._require(actor, Permission.ADMIN)
        limit = clamp_limit(limit)
        query = select(AuditEntry).where(AuditEntry.workspace_id == actor.workspace_id)
        if action:
            query = query.where(AuditEntry.action == action)
        if cursor:
            (last_id,) = decode_cursor(cursor)
            query = query.where(AuditEntry.id < int(last_id))
        with self.db.read() as session:
            rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
        next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
        return Page(rows[:limit], next_cursor)

    @staticmethod
    def _require(actor: Principal, permission: Permission) -> None:
        if not actor.can(permission):
            raise PermissionDenied(f"This needs the {permission} permission.")
