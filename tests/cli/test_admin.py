"""`cadenza users …` and `cadenza keys …`: the operator's access control, for people and for scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from cadenza.auth import Principal, Role, Scope
from cadenza.auth.errors import InvalidApiKey
from cadenza.auth.models import ApiKey, AuditEntry, Workspace
from cadenza.bootstrap import Container
from cadenza.cli import app
from tests.cli.operator import cli_env
from tests.conftest import Actors

PASSWORD = "operator password"


@pytest.fixture
def env(container: Container, database_url: str, tmp_path: Path) -> dict[str, str]:
    """The CLI's environment, pointed at the test database (which `container` has just emptied)."""
    return cli_env(database_url, tmp_path)


def cadenza(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner(env=env).invoke(app, list(args), input=input, catch_exceptions=False)


def _workspaces(container: Container) -> list[tuple[str, str]]:
    with container.db.read() as session:
        return [(w.name, w.slug) for w in session.scalars(select(Workspace).order_by(Workspace.id))]


def _members(container: Container, workspace_id: int) -> dict[str, Role]:
    system = Principal.system(workspace_id, "test")
    return {user.email: role for user, role in container.access.list_members(system)}


# ---- users ------------------------------------------------------------------------------------


def test_first_user_creates_the_workspace_as_its_owner(env: dict[str, str], container: Container) -> None:
    result = cadenza(env, "users", "create", "--email", "Ops@Example.com", "--password", PASSWORD,
                     "--name", "Ops", "--workspace-name", "Shop Floor")

    assert result.exit_code == 0, result.output
    assert _workspaces(container) == [("Shop Floor", "shop_floor")]
    workspace_id = container.access.find_workspace(None).id  # type: ignore[union-attr]
    assert _members(container, workspace_id) == {"ops@example.com": Role.OWNER}
    _token, signed_in = container.access.sign_in("ops@example.com", PASSWORD)
    assert signed_in.principal.role is Role.OWNER
    assert PASSWORD not in result.output


def test_first_workspace_is_named_default(env: dict[str, str], container: Container) -> None:
    assert cadenza(env, "users", "create", "--email", "ops@example.com", "--password", PASSWORD).exit_code == 0
    assert _workspaces(container) == [("Default", "default")]


def test_first_user_cannot_be_anything_but_owner(env: dict[str, str], container: Container) -> None:
    result = cadenza(env, "users", "create", "--email", "ops@example.com", "--password", PASSWORD,
                     "--role", "analyst")
    assert result.exit_code == 2
    assert "--role owner" in result.stderr
    assert _workspaces(container) == []


def test_add_a_member_reading_the_password_from_stdin(env: dict[str, str], container: Container,
                                                     actors: Actors) -> None:
    result = cadenza(env, "users", "create", "--email", "mia@example.com", "--role", "marketer",
                     "--password-stdin", "--workspace", "acme", input=f"{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert result.stdout == "Added mia@example.com to acme as marketer.\n"
    assert _members(container, actors.alice.workspace_id)["mia@example.com"] is Role.MARKETER
    container.access.sign_in("mia@example.com", PASSWORD, "acme")
    with container.db.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.created")
                                .order_by(AuditEntry.id.desc())).first()
        assert entry is not None
        assert (entry.actor_type, entry.actor_id, entry.actor_label, entry.workspace_id) == (
            "system", None, "cli", actors.alice.workspace_id)


def test_add_a_member_with_a_prompted_password(env: dict[str, str], container: Container, actors: Actors) -> None:
    result = cadenza(env, "users", "create", "--email", "mia@example.com", "--role", "analyst", "-w", "globex",
                     input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert _members(container, actors.charlie.workspace_id)["mia@example.com"] is Role.ANALYST
    assert PASSWORD not in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "analyst"], "several workspaces"),
    (["--role", "analyst", "--workspace", "nowhere"], "No workspace with the slug 'nowhere'"),
    (["--workspace", "acme"], "--role"),
    (["--role", "analyst", "--workspace", "acme", "--password", "short"], "10 to 200 characters"),
    (["--role", "analyst", "--workspace", "acme", "--password", PASSWORD, "--password-stdin"], "not both"),
], ids=["several-workspaces", "unknown-workspace", "no-role", "short-password", "two-passwords"])
def test_bad_input_exits_2_with_a_clear_message(env: dict[str, str], container: Container, actors: Actors,
                                                 args: list[str], message: str) -> None:
    if "--password" not in args and "--password-stdin" not in args:
        args = [*args, "--password", PASSWORD]
    result = cadenza(env, "users", "create", "--email", "mia@example.com", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "mia@example.com" not in _members(container, actors.alice.workspace_id)


def test_bad_role_is_a_usage_error(env: dict[str, str], actors: Actors) -> None:
    result = cadenza(env, "users", "create", "--email", "mia@example.com", "--role", "root", "-w", "acme",
                     "--password", PASSWORD)
    assert result.exit_code == 2
    assert "root" in result.stderr


def test_an_existing_member_is_refused_with_exit_1(env: dict[str, str], actors: Actors) -> None:
    result = cadenza(env, "users", "create", "--email", "bob@acme.test", "--role", "analyst", "-w", "acme",
                     "--password", PASSWORD)
    assert result.exit_code == 1
    assert "already a member" in result.stderr


def test_users_list_as_json_and_as_a_table(env: dict[str, str], actors: Actors) -> None:
    result = cadenza(env, "users", "list", "--workspace", "acme", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["email"], r["name"], r["role"], r["is_active"]) for r in rows] == [
        ("alice@acme.test", "Alice", "owner", True), ("bob@acme.test", "Bob", "marketer", True)]

    table = cadenza(env, "users", "list", "-w", "acme")
    assert table.exit_code == 0
    assert "alice@acme.test" in table.stdout and "marketer" in table.stdout
    assert "charlie" not in table.stdout


def test_users_list_with_no_workspace_at_all(env: dict[str, str]) -> None:
    result = cadenza(env, "users", "list")
    assert result.exit_code == 2
    assert "no workspace yet" in result.stderr


# ---- keys ---------------------------------------------------------------------------------------


def test_keys_create_prints_only_the_key(env: dict[str, str], container: Container, actors: Actors) -> None:
    result = cadenza(env, "keys", "create", "--name", "ci", "--scope", "ingest", "--workspace", "globex")

    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"cdz_[0-9a-f]{8}_[A-Za-z0-9_\-]{43}\n", result.stdout)
    raw = result.stdout.strip()
    principal = container.access.authenticate_api_key(raw)
    assert (principal.workspace_id, principal.scope) == (actors.charlie.workspace_id, Scope.INGEST)
    with container.db.read() as session:
        key = session.scalars(select(ApiKey).where(ApiKey.name == "ci")).one()
        assert raw not in (key.key_hash, key.prefix) and raw.startswith(key.prefix + "_")


def test_keys_create_in_the_only_workspace_without_naming_it(env: dict[str, str], container: Container) -> None:
    container.access.create_workspace("Solo", "solo@example.com", PASSWORD)
    result = cadenza(env, "keys", "create", "--name", "ci", "--scope", "write")
    assert result.exit_code == 0, result.output
    assert container.access.authenticate_api_key(result.stdout.strip()).scope is Scope.WRITE


@pytest.mark.parametrize(("args", "message"), [
    (["--name", "ci", "--scope", "root", "-w", "acme"], "root"),
    (["--name", "ci", "--scope", "read"], "several workspaces"),
    (["--name", "ci", "--scope", "read", "-w", "nowhere"], "nowhere"),
    (["--name", " ", "--scope", "read", "-w", "acme"], "name"),
], ids=["bad-scope", "several-workspaces", "unknown-workspace", "blank-name"])
def test_keys_create_bad_input_exits_2_and_prints_no_key(env: dict[str, str], actors: Actors, args: list[str],
                                                          message: str) -> None:
    result = cadenza(env, "keys", "create", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_keys_list_never_shows_a_key(env: dict[str, str], actors: Actors) -> None:
    result = cadenza(env, "keys", "list", "-w", "acme", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert sorted(r["scope"] for r in rows) == ["admin", "ingest", "read", "write"]
    assert all("key" not in r for r in rows)
    for raw in actors.alice.keys.values():
        assert raw not in result.stdout
    table = cadenza(env, "keys", "list", "-w", "acme")
    assert table.exit_code == 0 and "ingest key" in table.stdout


@pytest.mark.parametrize("reference", ["prefix", "id", "full key"])
def test_keys_revoke_by_prefix_id_or_key(env: dict[str, str], container: Container, actors: Actors,
                                         reference: str) -> None:
    key, raw = container.access.create_api_key(actors.alice.principal, "doomed", Scope.WRITE)
    container.access.authenticate_api_key(raw)  # cached: revoking must still refuse it at once
    ref = {"prefix": key.prefix, "id": str(key.id), "full key": raw}[reference]

    result = cadenza(env, "keys", "revoke", ref, "-w", "acme")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"Revoked {key.prefix} (doomed).\n"
    with container.db.read() as session:
        assert session.get(ApiKey, key.id).revoked_at is not None  # type: ignore[union-attr]
    # The CLI is another process: a server that has not cached the key refuses it at once (one that has
    # refuses it within AccessControl.KEY_CACHE_SECONDS).
    fresh = type(container.access)(container.db, container.clock)
    with pytest.raises(InvalidApiKey):
        fresh.authenticate_api_key(raw)


def test_keys_revoke_refuses_another_workspaces_key(env: dict[str, str], container: Container,
                                                    actors: Actors) -> None:
    key = container.access.find_api_key(actors.alice.principal, actors.alice.keys[Scope.ADMIN])
    result = cadenza(env, "keys", "revoke", key.prefix, "-w", "globex")
    assert result.exit_code == 2
    assert "No API key" in result.stderr
    assert container.access.authenticate_api_key(actors.alice.keys[Scope.ADMIN]).id == key.id
