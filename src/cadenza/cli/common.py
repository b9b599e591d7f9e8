"""What every command shares: building the container and refusing an unmigrated database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from cadenza.core.errors import CadenzaError, NotFound, ValidationFailed

if TYPE_CHECKING:
    from cadenza.bootstrap import Container

console = Console()
err_console = Console(stderr=True)


def open_container(*, require_migrated: bool = True) -> Container:
    from cadenza.bootstrap import build_container  # the application, loaded by the commands that use it

    container = build_container()
    if require_migrated:
        ensure_migrated(container)
    return container


def ensure_migrated(container: Container) -> None:
    try:
        status = container.migration_status()
    except Exception as error:
        err_console.print(f"[red]Cannot reach the database:[/red] {error}")
        raise typer.Exit(2)
    if not status.is_current:
        err_console.print(
            f"[red]The database is not migrated[/red] (at {status.current or 'an empty schema'}, "
            f"code expects {status.head}). Run: [bold]cadenza db upgrade[/bold]"
        )
        raise typer.Exit(2)


def warn_operator(container: Container) -> None:
    """Settings of the database server that will hurt later, said once at start-up."""
    for warning in container.db.operator_warnings():
        err_console.print(f"[yellow]Warning:[/yellow] {warning}")


@contextmanager
def operator_container() -> Iterator[Container]:
    """The container for an operator command, closed afterwards. A service error becomes a message on
    stderr and exit code 2 for bad input (unknown id, invalid value), 1 for a refusal (a conflict)."""
    container = open_container()
    try:
        yield container
    except CadenzaError as error:
        err_console.print(f"[red]Error:[/red] {error.detail}", highlight=False)
        raise typer.Exit(2 if isinstance(error, ValidationFailed | NotFound) else 1)
    finally:
        container.close()
