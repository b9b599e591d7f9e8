"""Use cases of access control: workspaces, users, sessions, API keys, the audit log."""

from __future__ import annotations

import datetime as dt
import threading
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from cadenza.auth.audit import record_audit
from cadenza.auth.errors import InvalidApiKey
from cadenza.auth.members import (
    MemberUseCases,
    clean_name,
    detached_read,
    normalise_email,
    require,
)
from cadenza.auth.models import ApiKey, AuditEntry, Membership, User, Workspace
from cadenza.auth.roles import Permission, Principal, Role, Scope
from cadenza.auth.secrets import (
    digest,
    hash_password,
    new_api_key,
    validate_password,
    visible_prefix,
)
from cadenza.auth.sign_in import SignInUseCases
from cadenza.core.clock import Clock
from cadenza.core.errors import NotFound, ValidationFailed
from cadenza.core.pagination import Page, clamp_limit, id_from_cursor, next_id_cursor
from cadenza.core.text import slugify
from cadenza.storage import Database
from cadenza.storage.lookup import fetch_row

_API_KEYS = cast(Table, ApiKey.__table__)


class AccessControl(MemberUseCases, SignInUseCases):
    """Builds principals from credentials and manages who may do what."""

    # A key's last use is kept to the minute: each process writes it at most once a minute per key.
    LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
    # Keys this process has seen valid (digest -> principal), for `identify_api_key`. Only valid keys enter,
    # so it holds at most as many entries as there are keys; past this size it starts afresh.
    KNOWN_KEYS_LIMIT = 10_000

    def __init__(self, db: Database, clock: Clock, session_max_age: int = 14 * 24 * 3600) -> None:
        self.db = db
        self.clock = clock
        self.session_max_age = session_max_age
        self._known_keys: dict[str, Principal] = {}
        self._key_used_at: dict[int, dt.datetime] = {}
        self._lock = threading.Lock()

    # ---- workspaces ---------------------------------------------------------------------------

    def create_workspace(self, name: str, owner_email: str, owner_password: str, owner_name: str = "") -> Principal:
        """A new workspace with its first owner (a new or existing user, whose password then stays theirs)."""
        name = clean_name(name, "workspace_name")
        if not name:
            raise ValidationFailed("A workspace needs a name.", errors=[{"field": "workspace_name"}])
        owner_email = normalise_email(owner_email)
        password_hash = hash_password(validate_password(owner_password))  # slow on purpose: outside the transaction
        now = self.clock.now()
        with self.db.transaction() as session:
            slug = self._free_slug(session, slugify(name) or "workspace")
            workspace = Workspace(name=name, slug=slug, created_at=now)
            session.add(workspace)
            user = session.scalar(select(User).where(User.email == owner_email))
            if user is None:
                user = User(email=owner_email, name=clean_name(owner_name), password_hash=password_hash,
                            is_active=True, created_at=now)
                session.add(user)
            session.flush()
            session.add(Membership(workspace_id=workspace.id, user_id=user.id, role=Role.OWNER, created_at=now))
            principal = Principal.for_user(workspace.id, user.id, user.email, Role.OWNER)
            record_audit(session, principal, "workspace.created", at=now, target_type="workspace",
                         target_id=workspace.id, changes={"name": name, "slug": slug, "owner": user.email})
            return principal

    @staticmethod
    def _free_slug(session: Session, base: str) -> str:
        slug, n = base, 1
        while session.scalar(select(Workspace.id).where(Workspace.slug == slug)) is not None:
            n += 1
            slug = f"{base}-{n}"
        return slug

    def get_workspace(self, actor: Principal) -> Workspace:
        """The caller's own workspace."""
        with detached_read(self.db) as session:
            workspace = session.get(Workspace, actor.workspace_id)
        if workspace is None:
            raise NotFound("This workspace no longer exists.")
        return workspace

    def find_workspace(self, slug: str | None) -> Workspace | None:
        """For the operator (CLI): the workspace with `slug`, else the only one; None when there is none yet.

        Raises NotFound for an unknown slug and ValidationFailed when there are several and no slug.
        """
        with detached_read(self.db) as session:
            if slug:
                workspace = session.scalar(select(Workspace).where(Workspace.slug == slug))
                if workspace is None:
                    known = session.scalar(select(Workspace.id).limit(1))
                    hint = "" if known is not None else " (there is no workspace yet)"
                    raise NotFound(f"No workspace with the slug {slug!r}{hint}.")
                return workspace
            first_two = list(session.scalars(select(Workspace).order_by(Workspace.id).limit(2)))
        if len(first_two) > 1:
            raise ValidationFailed("There are several workspaces: name one with --workspace SLUG.",
                                   errors=[{"field": "workspace"}])
        return first_two[0] if first_two else None

    # ---- API keys ---------------------------------------------------------------------------

    def create_api_key(self, actor: Principal, name: str, scope: Scope) -> tuple[ApiKey, str]:
        """Returns the stored key and the full secret, which is never shown again: only its digest is kept."""
        require(actor, Permission.ADMIN)
        name = clean_name(name)
        if not name:
            raise ValidationFailed("A key needs a name.", errors=[{"field": "name"}])
        try:
            scope = Scope(scope)
        except ValueError:
            raise ValidationFailed(f"The scope is one of {', '.join(Scope)}.", errors=[{"field": "scope"}])
        raw, prefix = new_api_key()
        now = self.clock.now()
        with self.db.transaction() as session:
            key = ApiKey(
                workspace_id=actor.workspace_id, name=name, prefix=prefix, key_hash=digest(raw),
                scope=scope, created_by_user_id=actor.id if actor.kind == "user" else None, created_at=now,
            )
            session.add(key)
            session.flush()
            record_audit(session, actor, "api_key.created", at=now, target_type="api_key", target_id=key.id,
                         changes={"name": key.name, "scope": str(scope), "prefix": prefix})
            return key, raw

    def revoke_api_key(self, actor: Principal, key_id: int) -> ApiKey:
        """Revokes a key. Every process refuses it from its next request on: each request reads the key's row."""
        require(actor, Permission.ADMIN)
        now = self.clock.now()
        with self.db.transaction() as session:
            key = session.scalar(select(ApiKey).where(ApiKey.id == key_id,
                                                      ApiKey.workspace_id == actor.workspace_id))
            if key is None:
                raise NotFound(f"No API key {key_id} in this workspace.")
            if key.revoked_at is None:
                key.revoked_at = now
                record_audit(session, actor, "api_key.revoked", at=now, target_type="api_key",
                             target_id=key.id, changes={"name": key.name, "prefix": key.prefix})
        self._forget_key(key.id)
        return key

    def list_api_keys(self, actor: Principal) -> list[ApiKey]:
        require(actor, Permission.ADMIN)
        with detached_read(self.db) as session:
            return list(session.scalars(select(ApiKey).where(ApiKey.workspace_id == actor.workspace_id)
                                        .order_by(ApiKey.id.desc())))

    def list_api_keys_page(self, actor: Principal, *, limit: int | None = None,
                           cursor: str | None = None) -> Page[ApiKey]:
        """Keys newest first, revoked ones included (with their revocation time)."""
        require(actor, Permission.ADMIN)
        limit = clamp_limit(limit)
        query = select(ApiKey).where(ApiKey.workspace_id == actor.workspace_id)
        if cursor:
            query = query.where(ApiKey.id < id_from_cursor(cursor))
        with detached_read(self.db) as session:
            rows = list(session.scalars(query.order_by(ApiKey.id.desc()).limit(limit + 1)))
        next_cursor = next_id_cursor(rows, limit)
        return Page(rows[:limit], next_cursor)

    def find_api_key(self, actor: Principal, reference: str) -> ApiKey:
        """A key of this workspace by id, visible prefix (`cdz_1a2b3c4d`) or full key."""
        require(actor, Permission.ADMIN)
        reference = reference.strip()
        query = select(ApiKey).where(ApiKey.workspace_id == actor.workspace_id)
        if reference.isdigit():
            query = query.where(ApiKey.id == int(reference))
        else:
            query = query.where(ApiKey.prefix == (visible_prefix(reference) or reference))
        with detached_read(self.db) as session:
            key = session.scalar(query)
        if key is None:
            raise NotFound(f"No API key {reference!r} in this workspace.")
        return key

    def authenticate_api_key(self, raw: str) -> Principal:
        """The principal for a key, from its row read now: a key revoked or deleted through any process is
        refused from the next request on. One indexed read on the driver's cursor (see bench/api_key_auth.py)."""
        key_digest = digest(raw)
        with self.db.read_connection() as connection:
            row = fetch_row(connection, _API_KEYS, ("id", "workspace_id", "prefix", "name", "scope", "revoked_at"),
                            "key_hash", key_digest)
        if row is None or row[5] is not None:
            raise InvalidApiKey("The API key is unknown or revoked.")
        key_id, workspace_id, prefix, name, scope = row[:5]
        principal = Principal.for_api_key(workspace_id, key_id, f"key {prefix} ({name})", Scope(scope))
        with self._lock:
            if len(self._known_keys) >= self.KNOWN_KEYS_LIMIT:
                self._known_keys.clear()
            self._known_keys[key_digest] = principal
        self._note_use(key_id)
        return principal

    def identify_api_key(self, raw: str) -> Principal:
        """For the ingest hot path: who a key is, without a read of its own when this process has seen it valid.

        Whoever acts on the principal must call `confirm_api_key` in the transaction that acts (ingest does,
        for every key principal): that one cheap read, in a transaction the request opens anyway, is what
        refuses a key revoked through another process."""
        principal = self._known_keys.get(digest(raw))
        if principal is None:
            return self.authenticate_api_key(raw)
        if principal.id is not None:
            self._note_use(principal.id)
        return principal

    def known_api_key(self, raw: str) -> Principal | None:
        """`identify_api_key` when it needs no database at all (a key this process has seen, whose last use was
        recorded within the minute), else None: for callers on an event loop, which must not wait on I/O."""
        principal = self._known_keys.get(digest(raw))
        if principal is None or principal.id is None or not self._use_recorded(principal.id, self.clock.now()):
            return None
        return principal

    def confirm_api_key(self, session: Session, principal: Principal) -> None:
        """Inside the caller's transaction: refuses a key principal whose key has since been revoked or deleted."""
        if principal.kind != "api_key":
            return
        row = fetch_row(session, _API_KEYS, ("revoked_at",), "id", principal.id)
        if row is None or row[0] is not None:
            self._forget_key(principal.id)
            raise InvalidApiKey("The API key is unknown or revoked.")

    def _forget_key(self, key_id: int | None) -> None:
        with self._lock:
            self._known_keys = {k: p for k, p in self._known_keys.items() if p.id != key_id}

    def _use_recorded(self, key_id: int, now: dt.datetime) -> bool:
        """Whether this process recorded the key's last use within LAST_USED_RESOLUTION of `now`."""
        last = self._key_used_at.get(key_id)
        return last is not None and now - last < self.LAST_USED_RESOLUTION

    def _note_use(self, key_id: int) -> None:
        """Records the key's last use, at most once a minute per key from this process (a write is dear on the
        hot path; on SQLite it waits for the one writer)."""
        now = self.clock.now()
        if self._use_recorded(key_id, now):
            return
        self._key_used_at[key_id] = now
        stale = now - self.LAST_USED_RESOLUTION
        with self.db.transaction() as session:
            session.execute(update(ApiKey).where(
                ApiKey.id == key_id, (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at <= stale))
                .values(last_used_at=now))

    # ---- audit log --------------------------------------------------------------------------

    def list_audit(self, actor: Principal, *, limit: int | None = None, cursor: str | None = None,
                   action: str | None = None, actor_type: str | None = None, actor_id: int | None = None,
                   target_type: str | None = None, target_id: str | None = None) -> Page[AuditEntry]:
        """The audit log, newest first, filtered by exact action, actor and target."""
        require(actor, Permission.ADMIN)
        limit = clamp_limit(limit)
        query = select(AuditEntry).where(AuditEntry.workspace_id == actor.workspace_id)
        filters = [(AuditEntry.action, action), (AuditEntry.actor_type, actor_type), (AuditEntry.actor_id, actor_id),
                   (AuditEntry.target_type, target_type), (AuditEntry.target_id, target_id)]
        for column, value in filters:
            if value is not None and value != "":
                query = query.where(column == value)
        if cursor:
            query = query.where(AuditEntry.id < id_from_cursor(cursor))
        with detached_read(self.db) as session:
            rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
        next_cursor = next_id_cursor(rows, limit)
        return Page(rows[:limit], next_cursor)

    @staticmethod
    def _require(actor: Principal, permission: Permission) -> None:
        require(actor, permission)
