"""Roles, scopes and grants: pure rules, no database."""

from __future__ import annotations

import pytest

from cadenza.auth import Permission, Principal, Role, Scope
from cadenza.auth.roles import can_grant, granting_role, role_permissions

P = Permission


@pytest.mark.parametrize(("role", "expected"), [
    (Role.OWNER, {P.INGEST, P.READ, P.WRITE, P.ADMIN}),
    (Role.ADMIN, {P.INGEST, P.READ, P.WRITE, P.ADMIN}),
    (Role.MARKETER, {P.INGEST, P.READ, P.WRITE}),
    (Role.ANALYST, {P.READ}),
], ids=lambda value: value if isinstance(value, str) else "-".join(sorted(value)))
def test_each_role_has_exactly_its_permissions(role: Role, expected: set[Permission]) -> None:
    assert role_permissions(role) == expected
    assert Principal.for_user(1, 2, "u@example.com", role).permissions == expected


@pytest.mark.parametrize(("scope", "expected"), [
    (Scope.INGEST, {P.INGEST}),
    (Scope.READ, {P.READ}),
    (Scope.WRITE, {P.INGEST, P.READ, P.WRITE}),
    (Scope.ADMIN, {P.INGEST, P.READ, P.WRITE, P.ADMIN}),
], ids=lambda value: value if isinstance(value, str) else "-".join(sorted(value)))
def test_each_key_scope_has_exactly_its_permissions(scope: Scope, expected: set[Permission]) -> None:
    principal = Principal.for_api_key(1, 2, "key", scope)
    assert principal.permissions == expected
    assert principal.role is None
    assert principal.scope is scope


GRANTS = {
    Role.OWNER: {Role.OWNER, Role.ADMIN, Role.MARKETER, Role.ANALYST},
    Role.ADMIN: {Role.ADMIN, Role.MARKETER, Role.ANALYST},
    Role.MARKETER: set(),
    Role.ANALYST: set(),
}


@pytest.mark.parametrize("granter", list(Role), ids=str)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_grant_matrix(granter: Role, role: Role) -> None:
    assert can_grant(granter, role) is (role in GRANTS[granter])


def test_granting_role_of_each_kind_of_principal() -> None:
    assert granting_role(Principal.for_user(1, 2, "a@example.com", Role.ADMIN)) is Role.ADMIN
    assert granting_role(Principal.for_user(1, 2, "a@example.com", Role.OWNER)) is Role.OWNER
    assert granting_role(Principal.system(1, "cli")) is Role.OWNER
    # An admin key is no owner: an admin could otherwise mint one and make themselves owner.
    assert granting_role(Principal.for_api_key(1, 2, "key", Scope.ADMIN)) is Role.ADMIN
    assert granting_role(Principal.for_api_key(1, 2, "key", Scope.WRITE)) is Role.ANALYST


def test_system_principal_has_every_permission_and_no_role() -> None:
    system = Principal.system(7, "cli")
    assert system.permissions == set(Permission)
    assert (system.kind, system.id, system.role, system.label, system.workspace_id) == ("system", None, None, "cli", 7)
