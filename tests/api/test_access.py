"""The role matrix over the access-control API: owner, admin, marketer, analyst × each action."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cadenza.auth import Principal, Role, Scope
from cadenza.auth.models import ApiKey, AuditEntry, Membership
from cadenza.bootstrap import Container
from tests.auth.factories import acting_as, make_member
from tests.conftest import Actors

Action = Callable[[TestClient, dict[str, int]], int]

ACTIONS: dict[str, Action] = {
    "list users": lambda c, ids: c.get("/api/v1/users").status_code,
    "get user": lambda c, ids: c.get(f"/api/v1/users/{ids['bob']}").status_code,
    "create analyst": lambda c, ids: c.post("/api/v1/users", json={
        "email": "new@example.com", "password": "long enough pw", "role": "analyst"}).status_code,
    "create owner": lambda c, ids: c.post("/api/v1/users", json={
        "email": "boss@example.com", "password": "long enough pw", "role": "owner"}).status_code,
    "rename member": lambda c, ids: c.patch(f"/api/v1/users/{ids['bob']}", json={"name": "Robert"}).status_code,
    "demote owner": lambda c, ids: c.patch(f"/api/v1/users/{ids['olga']}", json={"role": "admin"}).status_code,
    "remove member": lambda c, ids: c.delete(f"/api/v1/users/{ids['bob']}").status_code,
    "list keys": lambda c, ids: c.get("/api/v1/api-keys").status_code,
    "create key": lambda c, ids: c.post("/api/v1/api-keys", json={"name": "n", "scope": "read"}).status_code,
    "revoke key": lambda c, ids: c.delete(f"/api/v1/api-keys/{ids['key']}").status_code,
    "read audit log": lambda c, ids: c.get("/api/v1/audit-log").status_code,
    "me": lambda c, ids: c.get("/api/v1/me").status_code,
}

OK = {"list users": 200, "get user": 200, "create analyst": 201, "create owner": 201, "rename member": 200,
      "demote owner": 200, "remove member": 204, "list keys": 200, "create key": 201, "revoke key": 200,
      "read audit log": 200, "me": 200}
EXPECTED: dict[Role, dict[str, int]] = {
    Role.OWNER: OK,
    Role.ADMIN: {**OK, "create owner": 403, "demote owner": 403},
    Role.MARKETER: {action: 200 if action == "me" else 403 for action in ACTIONS},
    Role.ANALYST: {action: 200 if action == "me" else 403 for action in ACTIONS},
}


def _counts(container: Container) -> tuple[int, int, int]:
    with container.db.read() as session:
        return tuple(int(session.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[return-value]
                     for model in (AuditEntry, Membership, ApiKey))


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_role_matrix(client: TestClient, actors: Actors, container: Container, role: Role) -> None:
    alice = actors.alice.principal
    make_member(container, alice, "olga@example.com", Role.OWNER)  # so that demoting an owner is possible
    caller: Principal = alice if role is Role.OWNER else make_member(container, alice, f"{role}@example.com", role)
    olga = next(user.id for user, _ in container.access.list_members(alice) if user.email == "olga@example.com")
    key, _raw = container.access.create_api_key(alice, "spare", Scope.READ)
    ids = {"bob": actors.bob.principal.id or 0, "olga": olga, "key": key.id}

    got: dict[str, int] = {}
    with acting_as(client.app, caller):  # type: ignore[arg-type]
        for name, action in ACTIONS.items():
            before = _counts(container)
            got[name] = action(client, ids)
            if got[name] >= 400:
                assert _counts(container) == before, f"{name} was refused but wrote something"
    assert got == EXPECTED[role]


@pytest.mark.parametrize(("scope", "expected"), [
    (Scope.INGEST, 403), (Scope.READ, 403), (Scope.WRITE, 403), (Scope.ADMIN, 200),
], ids=str)
def test_only_admin_keys_manage_access(client: TestClient, actors: Actors, scope: Scope, expected: int) -> None:
    headers = actors.alice.headers(scope)
    assert client.get("/api/v1/users", headers=headers).status_code == expected
    assert client.get("/api/v1/api-keys", headers=headers).status_code == expected
    assert client.get("/api/v1/audit-log", headers=headers).status_code == expected
    assert client.get("/api/v1/me", headers=headers).status_code == 200
