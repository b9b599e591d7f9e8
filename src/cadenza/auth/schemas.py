from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from cadenza.auth.models import User
from cadenza.auth.roles import Permission, Role, Scope
from cadenza.auth.secrets import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: Role
    is_active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None = None
    # Set while too many failed attempts keep them from signing in (from some network or any); an admin can
    # lift it with POST /api/v1/users/{id}/unlock.
    sign_in_locked_until: dt.datetime | None = None

    @classmethod
    def of(cls, user: User, role: Role, locks: dict[int, dt.datetime] | None = None) -> UserOut:
        return cls(id=user.id, email=user.email, name=user.name, role=role, is_active=user.is_active,
                   created_at=user.created_at, last_login_at=user.last_login_at,
                   sign_in_locked_until=(locks or {}).get(user.id))


class UserPage(BaseModel):
    data: list[UserOut]
    next_cursor: str | None = None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    name: str = Field("", max_length=200, pattern=NO_NUL)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH, repr=False)
    role: Role = Role.MARKETER


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, pattern=NO_NUL)
    role: Role | None = None
    is_active: bool | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scope: Scope
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class ApiKeyPage(BaseModel):
    data: list[ApiKeyOut]
    next_cursor: str | None = None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    scope: Scope


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown once; store it now.", repr=False)


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    actor_type: str
    actor_id: int | None
    actor_label: str
    action: str
    target_type: str
    target_id: str
    changes: dict[str, Any]
    note: str | None = None
    ip_address: str | None = None
    created_at: dt.datetime


class AuditPage(BaseModel):
    data: list[AuditEntryOut]
    next_cursor: str | None = None


class WorkspaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    slug: str


class MeOut(BaseModel):
    """Who is calling: a user (with a role) or an API key (with a scope), and what they may do."""

    workspace: WorkspaceOut
    kind: str = Field(description="user, api_key or system")
    id: int | None
    label: str
    role: Role | None = None
    scope: Scope | None = None
    permissions: list[Permission]
