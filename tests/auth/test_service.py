"""AccessControl use cases: members, grants, the last owner, keys, sign-in, audit entries."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select

from cadenza.auth import Principal, Role, Scope
from cadenza.auth.errors import InvalidApiKey, InvalidCredentials, LastOwner
from cadenza.auth.models import ApiKey, AuditEntry, Membership, User, UserSession
from cadenza.bootstrap import Container
from cadenza.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.conftest import Actors

PASSWORD = "another long password"


def _audit(container: Container, workspace_id: int) -> list[AuditEntry]:
    with container.db.read() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.workspace_id == workspace_id)
                                    .order_by(AuditEntry.id)))
        session.expunge_all()
        return rows


def _count(container: Container, model: type, **where: object) -> int:
    with container.db.read() as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(session.scalar(query) or 0)


def _member(container: Container, owner: Principal, email: str, role: Role) -> Principal:
    user = container.access.create_user(owner, email, PASSWORD, role)
    return Principal.for_user(owner.workspace_id, user.id, user.email, role)


# ---- creating members ----------------------------------------------------------------------


def test_create_user_adds_member_and_audits_without_password(container: Container, actors: Actors) -> None:
    user = container.access.create_user(actors.alice.principal, " Dana@Example.com ", PASSWORD, Role.ANALYST,
                                        "Dana")

    assert (user.email, user.name, user.is_active) == ("dana@example.com", "Dana", True)
    assert container.access.get_member(actors.alice.principal, user.id)[1] is Role.ANALYST
    last = _audit(container, actors.alice.workspace_id)[-1]
    assert (last.action, last.actor_type, last.actor_id, last.actor_label) == (
        "user.created", "user", actors.alice.principal.id, "alice@acme.test")
    assert (last.target_type, last.target_id) == ("user", str(user.id))
    assert last.changes == {"email": "dana@example.com", "role": "analyst"}
    assert PASSWORD not in json.dumps(last.changes)


@pytest.mark.parametrize("password", ["short", ""], ids=["short", "empty"])
def test_create_user_enforces_password_policy(container: Container, actors: Actors, password: str) -> None:
    with pytest.raises(ValidationFailed):
        container.access.create_user(actors.alice.principal, "dana@example.com", password, Role.ANALYST)
    assert _count(container, User, email="dana@example.com") == 0


def test_create_user_refuses_a_bad_email_or_name(container: Container, actors: Actors) -> None:
    for email, name in (("not an email", ""), ("a\x00@example.com", ""), ("dana@example.com", "Da\x00na")):
        with pytest.raises(ValidationFailed):
            container.access.create_user(actors.alice.principal, email, PASSWORD, Role.ANALYST, name)
    with pytest.raises(ValidationFailed):
        container.access.update_member(actors.alice.principal, actors.bob.principal.id or 0, name="B\x00b")
    assert _count(container, User, email="dana@example.com") == 0


def test_admin_cannot_create_an_owner_but_owner_can(container: Container, actors: Actors) -> None:
    admin = _member(container, actors.alice.principal, "ada@example.com", Role.ADMIN)
    with pytest.raises(PermissionDenied):
        container.access.create_user(admin, "eve@example.com", PASSWORD, Role.OWNER)
    assert _count(container, User, email="eve@example.com") == 0

    container.access.create_user(admin, "fay@example.com", PASSWORD, Role.ADMIN)
    container.access.create_user(actors.alice.principal, "gus@example.com", PASSWORD, Role.OWNER)
    roles = {user.email: role for user, role in container.access.list_members(actors.alice.principal)}
    assert roles == {"alice@acme.test": Role.OWNER, "bob@acme.test": Role.MARKETER, "ada@example.com": Role.ADMIN,
                     "fay@example.com": Role.ADMIN, "gus@example.com": Role.OWNER}


def test_admin_key_grants_as_an_admin_and_system_as_an_owner(container: Container, actors: Actors) -> None:
    key = container.access.authenticate_api_key(actors.alice.keys[Scope.ADMIN])
    with pytest.raises(PermissionDenied):
        container.access.create_user(key, "eve@example.com", PASSWORD, Role.OWNER)
    container.access.create_user(key, "eve@example.com", PASSWORD, Role.ADMIN)

    system = Principal.system(actors.alice.workspace_id, "cli")
    user = container.access.create_user(system, "sys@example.com", PASSWORD, Role.OWNER)
    assert container.access.get_member(system, user.id)[1] is Role.OWNER
    assert _audit(container, actors.alice.workspace_id)[-1].actor_type == "system"


@pytest.mark.parametrize("role", [Role.MARKETER, Role.ANALYST], ids=str)
def test_non_admins_cannot_manage_members(container: Container, actors: Actors, role: Role) -> None:
    member = _member(container, actors.alice.principal, "m@example.com", role)
    before = _count(container, AuditEntry)
    with pytest.raises(PermissionDenied):
        container.access.create_user(member, "x@example.com", PASSWORD, Role.ANALYST)
    with pytest.raises(PermissionDenied):
        container.access.update_member(member, actors.bob.principal.id or 0, name="Robert")
    with pytest.raises(PermissionDenied):
        container.access.remove_member(member, actors.bob.principal.id or 0)
    with pytest.raises(PermissionDenied):
        container.access.list_members(member)
    assert _count(container, AuditEntry) == before


def test_adding_an_existing_member_again_conflicts(container: Container, actors: Actors) -> None:
    with pytest.raises(Conflict):
        container.access.create_user(actors.alice.principal, "bob@acme.test", PASSWORD, Role.ANALYST)


def test_an_existing_user_joins_another_workspace_keeping_their_password(
        container: Container, actors: Actors) -> None:
    user = container.access.create_user(actors.charlie.principal, "bob@acme.test", "a different password",
                                        Role.ANALYST)
    assert user.id == actors.bob.principal.id
    _token, signed_in = container.access.sign_in("bob@acme.test", actors.bob.password, "globex")
    assert (signed_in.principal.workspace_id, signed_in.principal.role) == (actors.charlie.workspace_id,
                                                                             Role.ANALYST)
    with pytest.raises(InvalidCredentials):
        container.access.sign_in("bob@acme.test", "a different password")


# ---- changing and removing members ---------------------------------------------------------


def test_update_member_changes_role_name_and_activity_with_one_audit_entry(
        container: Container, actors: Actors) -> None:
    bob_id = actors.bob.principal.id or 0
    token, _ = container.access.sign_in("bob@acme.test", actors.bob.password)

    user, role = container.access.update_member(actors.alice.principal, bob_id, role=Role.ANALYST,
                                                name="Robert", is_active=False)

    assert (user.name, user.is_active, role) == ("Robert", False, Role.ANALYST)
    assert container.access.resolve_session(token) is None
    assert _count(container, UserSession, user_id=bob_id) == 0
    entry = _audit(container, actors.alice.workspace_id)[-1]
    assert (entry.action, entry.target_id) == ("user.updated", str(bob_id))
    assert entry.changes == {"role": ["marketer", "analyst"], "name": ["Bob", "Robert"], "is_active": [True, False]}


def test_update_member_without_a_change_writes_nothing(container: Container, actors: Actors) -> None:
    before = _count(container, AuditEntry)
    container.access.update_member(actors.alice.principal, actors.bob.principal.id or 0, role=Role.MARKETER,
                                   name="Bob", is_active=True)
    assert _count(container, AuditEntry) == before


def test_deactivated_user_cannot_sign_in(container: Container, actors: Actors) -> None:
    container.access.update_member(actors.alice.principal, actors.bob.principal.id or 0, is_active=False)
    with pytest.raises(InvalidCredentials):
        container.access.sign_in("bob@acme.test", actors.bob.password)


def test_last_owner_cannot_be_demoted_deactivated_or_removed(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    alice_id = alice.id or 0
    before = _count(container, AuditEntry)
    with pytest.raises(LastOwner):
        container.access.update_member(alice, alice_id, role=Role.ADMIN)
    with pytest.raises(LastOwner):
        container.access.update_member(alice, alice_id, is_active=False)
    with pytest.raises(LastOwner):
        container.access.remove_member(alice, alice_id)
    system = Principal.system(alice.workspace_id, "cli")
    with pytest.raises(LastOwner):
        container.access.remove_member(system, alice_id)
    assert container.access.get_member(alice, alice_id)[1] is Role.OWNER
    assert _count(container, AuditEntry) == before


def test_an_owner_steps_down_once_another_active_owner_exists(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    other = container.access.create_user(alice, "olga@example.com", PASSWORD, Role.OWNER)
    container.access.update_member(alice, other.id, is_active=False)
    with pytest.raises(LastOwner):  # an inactive owner does not count
        container.access.update_member(alice, alice.id or 0, role=Role.ADMIN)

    container.access.update_member(alice, other.id, is_active=True)
    _user, role = container.access.update_member(alice, alice.id or 0, role=Role.ADMIN)
    assert role is Role.ADMIN


def test_admin_cannot_touch_an_owner(container: Container, actors: Actors) -> None:
    admin = _member(container, actors.alice.principal, "ada@example.com", Role.ADMIN)
    container.access.create_user(actors.alice.principal, "olga@example.com", PASSWORD, Role.OWNER)
    alice_id = actors.alice.principal.id or 0
    for change in ({"role": Role.ANALYST}, {"is_active": False}, {"name": "Mallory"}):
        with pytest.raises(PermissionDenied):
            container.access.update_member(admin, alice_id, **change)  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        container.access.remove_member(admin, alice_id)
    with pytest.raises(PermissionDenied):  # nor promote anyone to owner
        container.access.update_member(admin, actors.bob.principal.id or 0, role=Role.OWNER)
    user, role = container.access.get_member(admin, alice_id)
    assert (user.name, user.is_active, role) == ("Alice", True, Role.OWNER)


def test_remove_member_keeps_the_user_and_ends_their_sessions_here(container: Container, actors: Actors) -> None:
    bob_id = actors.bob.principal.id or 0
    token, _ = container.access.sign_in("bob@acme.test", actors.bob.password)

    container.access.remove_member(actors.alice.principal, bob_id)

    assert container.access.resolve_session(token) is None
    assert _count(container, Membership, user_id=bob_id) == 0
    assert _count(container, User, id=bob_id) == 1
    with pytest.raises(NotFound):
        container.access.get_member(actors.alice.principal, bob_id)
    entry = _audit(container, actors.alice.workspace_id)[-1]
    assert (entry.action, entry.target_id, entry.changes) == ("user.removed", str(bob_id),
                                                              {"email": "bob@acme.test", "role": "marketer"})


def test_a_workspace_cannot_deactivate_or_rename_a_user_shared_with_another(
        container: Container, actors: Actors) -> None:
    """Charlie adds Bob to Globex; Globex must not lock Bob out of Acme nor rename him there."""
    charlie = actors.charlie.principal
    bob_id = actors.bob.principal.id or 0
    container.access.create_user(charlie, "bob@acme.test", PASSWORD, Role.ANALYST)
    with pytest.raises(Conflict):
        container.access.update_member(charlie, bob_id, is_active=False)
    with pytest.raises(Conflict):
        container.access.update_member(charlie, bob_id, name="Mallory")
    container.access.update_member(charlie, bob_id, role=Role.MARKETER)  # the role is Globex's own
    container.access.remove_member(charlie, bob_id)
    user, role = container.access.get_member(actors.alice.principal, bob_id)
    assert (user.name, user.is_active, role) == ("Bob", True, Role.MARKETER)


def test_members_of_another_workspace_are_not_found(container: Container, actors: Actors) -> None:
    alice_id = actors.alice.principal.id or 0
    charlie = actors.charlie.principal
    with pytest.raises(NotFound):
        container.access.get_member(charlie, alice_id)
    with pytest.raises(NotFound):
        container.access.update_member(charlie, alice_id, role=Role.ANALYST)
    with pytest.raises(NotFound):
        container.access.remove_member(charlie, alice_id)
    assert [user.email for user, _ in container.access.list_members(charlie)] == ["charlie@globex.test"]


def test_members_page_by_page(container: Container, actors: Actors) -> None:
    for n in range(3):
        container.access.create_user(actors.alice.principal, f"m{n}@example.com", PASSWORD, Role.ANALYST)
    first = container.access.list_members_page(actors.alice.principal, limit=2)
    second = container.access.list_members_page(actors.alice.principal, limit=2, cursor=first.next_cursor)
    third = container.access.list_members_page(actors.alice.principal, limit=2, cursor=second.next_cursor)
    emails = [user.email for user, _ in first.items + second.items + third.items]
    assert emails == ["alice@acme.test", "bob@acme.test", "m0@example.com", "m1@example.com", "m2@example.com"]
    assert third.next_cursor is None


# ---- sign-in ------------------------------------------------------------------------------


def test_unknown_email_and_wrong_password_fail_alike(container: Container, actors: Actors) -> None:
    errors = []
    for email, password in (("nobody@example.com", actors.alice.password), ("alice@acme.test", "wrong password")):
        with pytest.raises(InvalidCredentials) as caught:
            container.access.sign_in(email, password)
        errors.append(caught.value.to_problem())
    assert errors[0] == errors[1]


# ---- API keys -------------------------------------------------------------------------------


def test_key_is_stored_as_its_digest_only(container: Container, actors: Actors) -> None:
    key, raw = container.access.create_api_key(actors.alice.principal, "ci", Scope.INGEST)
    with container.db.read() as session:
        row = session.get(ApiKey, key.id)
        assert row is not None
        stored = " ".join(str(value) for value in row.__dict__.values())
        key_hash, prefix = row.key_hash, row.prefix
    assert raw not in stored
    assert key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(prefix + "_")


def test_revoked_key_is_refused_at_once_even_when_cached(container: Container, actors: Actors) -> None:
    key, raw = container.access.create_api_key(actors.alice.principal, "ci", Scope.WRITE)
    assert container.access.authenticate_api_key(raw).id == key.id  # now cached
    container.access.revoke_api_key(actors.alice.principal, key.id)
    with pytest.raises(InvalidApiKey):
        container.access.authenticate_api_key(raw)
    fresh = type(container.access)(container.db, container.clock)  # another process: no cache at all
    with pytest.raises(InvalidApiKey):
        fresh.authenticate_api_key(raw)


def test_revoking_twice_audits_once(container: Container, actors: Actors) -> None:
    key, _raw = container.access.create_api_key(actors.alice.principal, "ci", Scope.READ)
    container.access.revoke_api_key(actors.alice.principal, key.id)
    container.access.revoke_api_key(actors.alice.principal, key.id)
    actions = [entry.action for entry in _audit(container, actors.alice.workspace_id)]
    assert actions.count("api_key.revoked") == 1


def test_another_workspace_cannot_revoke_or_find_a_key(container: Container, actors: Actors) -> None:
    key, raw = container.access.create_api_key(actors.alice.principal, "ci", Scope.READ)
    with pytest.raises(NotFound):
        container.access.revoke_api_key(actors.charlie.principal, key.id)
    with pytest.raises(NotFound):
        container.access.find_api_key(actors.charlie.principal, key.prefix)
    assert container.access.authenticate_api_key(raw).workspace_id == actors.alice.workspace_id


def test_find_key_by_id_prefix_or_full_key(container: Container, actors: Actors) -> None:
    key, raw = container.access.create_api_key(actors.alice.principal, "ci", Scope.READ)
    alice = actors.alice.principal
    assert {container.access.find_api_key(alice, ref).id for ref in (str(key.id), key.prefix, raw)} == {key.id}


@pytest.mark.parametrize(("name", "scope"), [("", Scope.READ), ("x" * 201, Scope.READ), ("ci", "root"),
                                             ("nul\x00", Scope.READ)],
                         ids=["empty-name", "long-name", "bad-scope", "nul-in-name"])
def test_create_key_refuses_bad_input(container: Container, actors: Actors, name: str, scope: str) -> None:
    before = _count(container, ApiKey)
    with pytest.raises(ValidationFailed):
        container.access.create_api_key(actors.alice.principal, name, scope)  # type: ignore[arg-type]
    assert _count(container, ApiKey) == before


# ---- audit --------------------------------------------------------------------------------


def test_no_secret_ever_reaches_the_audit_log(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    user = container.access.create_user(alice, "dana@example.com", "dana's secret password", Role.ANALYST)
    container.access.sign_in("dana@example.com", "dana's secret password")
    container.access.update_member(alice, user.id, role=Role.MARKETER, name="Dana")
    key, raw = container.access.create_api_key(alice, "ci", Scope.ADMIN)
    container.access.authenticate_api_key(raw)
    container.access.revoke_api_key(alice, key.id)
    container.access.remove_member(alice, user.id)

    entries = _audit(container, alice.workspace_id)
    actions = [entry.action for entry in entries]
    assert actions[-6:] == ["user.created", "user.signed_in", "user.updated", "api_key.created",
                            "api_key.revoked", "user.removed"]
    with container.db.read() as session:
        password_hash = session.scalar(select(User.password_hash).where(User.id == user.id)) or ""
    text = json.dumps([[e.actor_label, e.action, e.target_id, e.changes, e.note] for e in entries])
    secrets = [actors.alice.password, "dana's secret password", raw, key.key_hash, password_hash,
               *actors.alice.keys.values()]
    assert [secret for secret in secrets if secret in text] == []
