"""`cadenza users …` and `cadenza keys …` for scripting.

The CLI is the operator: it acts as `Principal.system(workspace, "cli")`. Bad input (an unknown
workspace, several workspaces and no --workspace, a bad role, scope or password) exits with 2;
a refusal of a valid request (already a member, the last owner) exits with 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from cadenza.auth import Principal, Role, Scope
from cadenza.cli.common import console, err_console, open_container
from cadenza.core.errors import CadenzaError, NotFound, ValidationFailed

if TYPE_CHECKING:
    from cadenza.auth.models import Workspace
    from cadenza.bootstrap import Container

users = typer.Typer(help="Users and their roles.", no_args_is_help=True)
keys = typer.Typer(help="API keys.", no_args_is_help=True)

CLI_ACTOR = "cli"
WORKSPACE_OPTION = typer.Option(None, "--workspace", "-w", help="Workspace slug; needed when there are several.")
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


@contextmanager
def _operator() -> Iterator[Container]:
    """The container, closed afterwards; service errors become a message on stderr and an exit code."""
    container = open_container()
    try:
        yield container
    except CadenzaError as error:
        err_console.print(f"[red]Error:[/red] {error.detail}", highlight=False)
        raise typer.Exit(2 if isinstance(error, ValidationFailed | NotFound) else 1)
    finally:
        container.close()


def _workspace(container: Container, slug: str | None) -> Workspace:
    workspace = container.access.find_workspace(slug)
    if workspace is None:
        raise NotFound("There is no workspace yet: `cadenza users create` makes the first one.")
    return workspace


def _read_password(password: str | None, password_stdin: bool) -> str:
    if password is not None and password_stdin:
        raise ValidationFailed("Give --password or --password-stdin, not both.")
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if password is not None:
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users.command("create")
def create_user(
    email: str = typer.Option(..., "--email", help="The user's email address (their sign-in)."),
    role: Role | None = typer.Option(None, "--role", help="owner, admin, marketer or analyst. "
                                     "Required unless this creates the first workspace (then: owner)."),
    password: str | None = typer.Option(None, "--password", help="At least 10 characters. Prompted when absent."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    name: str = typer.Option("", "--name", help="Display name."),
    workspace: str | None = WORKSPACE_OPTION,
    workspace_name: str = typer.Option("Default", "--workspace-name",
                                       help="Name of the workspace to create when none exists yet."),
) -> None:
    """Add a user with a role. The very first user also creates the workspace, as its owner."""
    with _operator() as container:
        target = container.access.find_workspace(workspace)
        if target is None:
            if role not in (None, Role.OWNER):
                raise ValidationFailed("The first user creates the workspace and is its owner: use --role owner.")
            secret = _read_password(password, password_stdin)
            owner = container.access.create_workspace(workspace_name, email, secret, name)
            created = container.access.get_workspace(owner)
            console.print(f"Created workspace {created.name!r} (slug {created.slug}) with {owner.label} "
                              "as its owner.", highlight=False)
            return
        if role is None:
            raise ValidationFailed("Give the new member a --role: owner, admin, marketer or analyst.")
        secret = _read_password(password, password_stdin)
        actor = Principal.system(target.id, CLI_ACTOR)
        user = container.access.create_user(actor, email, secret, role, name)
        console.print(f"Added {user.email} to {target.slug} as {role}.", highlight=False)


@users.command("list")
def list_users(workspace: str | None = WORKSPACE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List a workspace's members and their roles."""
    with _operator() as container:
        target = _workspace(container, workspace)
        from cadenza.auth.schemas import UserOut

        members = [UserOut.of(user, role)
                   for user, role in container.access.list_members(Principal.system(target.id, CLI_ACTOR))]
    if as_json:
        typer.echo(json.dumps([member.model_dump(mode="json") for member in members], indent=2))
        return
    table = Table("id", "email", "name", "role", "active", "last sign-in", title=f"Members of {target.slug}")
    for member in members:
        last = member.last_login_at.strftime("%Y-%m-%d %H:%M") if member.last_login_at else "never"
        table.add_row(str(member.id), member.email, member.name, member.role, "yes" if member.is_active else "no",
                      last)
    console.print(table)


@keys.command("create")
def create_key(
    name: str = typer.Option(..., "--name", help="What the key is for, e.g. 'website' or 'ci'."),
    scope: Scope = typer.Option(..., "--scope", help="ingest (/v1 only), read, write or admin."),
    workspace: str | None = WORKSPACE_OPTION,
) -> None:
    """Create an API key and print ONLY the key, for `KEY=$(cadenza keys create --name ci --scope ingest)`."""
    with _operator() as container:
        target = _workspace(container, workspace)
        _key, raw = container.access.create_api_key(Principal.system(target.id, CLI_ACTOR), name, scope)
    typer.echo(raw)


@keys.command("list")
def list_keys(workspace: str | None = WORKSPACE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List API keys (prefix, name, scope, last use, revocation). Full keys are never shown again."""
    with _operator() as container:
        target = _workspace(container, workspace)
        from cadenza.auth.schemas import ApiKeyOut

        found = [ApiKeyOut.model_validate(key)
                 for key in container.access.list_api_keys(Principal.system(target.id, CLI_ACTOR))]
    if as_json:
        typer.echo(json.dumps([key.model_dump(mode="json") for key in found], indent=2))
        return
    table = Table("id", "prefix", "name", "scope", "created", "last used", "revoked",
                  title=f"API keys of {target.slug}")
    for key in found:
        table.add_row(str(key.id), key.prefix, key.name, key.scope, key.created_at.strftime("%Y-%m-%d %H:%M"),
                      key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "never",
                      key.revoked_at.strftime("%Y-%m-%d %H:%M") if key.revoked_at else "")
    console.print(table)


@keys.command("revoke")
def revoke_key(
    reference: str = typer.Argument(..., metavar="PREFIX_OR_ID", help="The key's id or visible prefix (cdz_…)."),
    workspace: str | None = WORKSPACE_OPTION,
) -> None:
    """Revoke an API key: it stops working at once."""
    with _operator() as container:
        target = _workspace(container, workspace)
        actor = Principal.system(target.id, CLI_ACTOR)
        key = container.access.revoke_api_key(actor, container.access.find_api_key(actor, reference).id)
    console.print(f"Revoked {key.prefix} ({key.name}).", highlight=False)
