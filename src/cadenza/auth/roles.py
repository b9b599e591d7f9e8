"""Roles, scopes and what each may do. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MARKETER = "marketer"
    ANALYST = "analyst"  # read-only


class Scope(StrEnum):
    INGEST = "ingest"  # /v1/* only
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Permission(StrEnum):
    INGEST = "ingest"
    READ = "read"  # contacts, companies, events, fields, imports
    WRITE = "write"  # change contacts, companies, fields; import; merge
    ADMIN = "admin"  # users, API keys, audit log, workspace settings


_ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission),
    Role.MARKETER: frozenset({Permission.READ, Permission.WRITE, Permission.INGEST}),
    Role.ANALYST: frozenset({Permission.READ}),
}

_SCOPE_PERMISSIONS: dict[Scope, frozenset[Permission]] = {
    Scope.INGEST: frozenset({Permission.INGEST}),
    Scope.READ: frozenset({Permission.READ}),
    Scope.WRITE: frozenset({Permission.READ, Permission.WRITE, Permission.INGEST}),
    Scope.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user or an API key, always inside exactly one workspace."""

    workspace_id: int
    kind: str  # user|api_key|system|anonymous
    id: int | None
    label: str
    permissions: frozenset[Permission]
    role: Role | None = None
    scope: Scope | None = None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @classmethod
    def for_user(cls, workspace_id: int, user_id: int, email: str, role: Role) -> Principal:
        return cls(workspace_id, "user", user_id, email, _ROLE_PERMISSIONS[role], role=role)

    @classmethod
    def for_api_key(cls, workspace_id: int, key_id: int, label: str, scope: Scope) -> Principal:
        return cls(workspace_id, "api_key", key_id, label, _SCOPE_PERMISSIONS[scope], scope=scope)

    @classmethod
    def anonymous(cls, workspace_id: int, label: str) -> Principal:
        """Someone not (yet) known, e.g. a failed sign-in, as an audit entry's actor. May do nothing."""
        return cls(workspace_id, "anonymous", None, label, frozenset())

    @classmethod
    def system(cls, workspace_id: int, label: str = "system") -> Principal:
        return cls(workspace_id, "system", None, label, frozenset(Permission))


def role_permissions(role: Role) -> frozenset[Permission]:
    return _ROLE_PERMISSIONS[role]


def can_grant(granter: Role, role: Role) -> bool:
    """Only an owner makes owners; admins manage everyone below owner."""
    if granter is Role.OWNER:
        return True
    return granter is Role.ADMIN and role is not Role.OWNER


def granting_role(principal: Principal) -> Role:
    """The role whose grants a principal may make. A user: their own. The operator (system): owner.

    An admin-scoped API key grants as an admin, never more: an admin could otherwise mint a key
    and use it to make themselves owner.
    """
    if principal.kind == "system":
        return Role.OWNER
    if principal.kind == "user" and principal.role is not None:
        return principal.role
    return Role.ADMIN if principal.can(Permission.ADMIN) else Role.ANALYST
