"""Factories for access-control tests: members of a role, and calling the API as any principal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from cadenza.api.deps import get_principal
from cadenza.auth import Principal, Role
from cadenza.bootstrap import Container

PASSWORD = "another long password"


def make_member(container: Container, owner: Principal, email: str, role: Role) -> Principal:
    """A new member of `owner`'s workspace with `role`, as the principal their session would give."""
    user = container.access.create_user(owner, email, PASSWORD, role, email.split("@")[0].title())
    return Principal.for_user(owner.workspace_id, user.id, user.email, role)


@contextmanager
def acting_as(app: FastAPI, principal: Principal) -> Iterator[None]:
    """Every request made meanwhile is `principal`'s, whatever credentials it carries (or none)."""
    app.dependency_overrides[get_principal] = lambda: principal
    try:
        yield
    finally:
        app.dependency_overrides.pop(get_principal, None)
