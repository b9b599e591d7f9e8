"""What every command shares: building the container and refusing an unmigrated database."""

from __future__ import annotations

import typer
from rich.console import Console

from cadenza.bootstrap import Container, build_container

console = Console()
err_console = Console(stderr=True)


def open_container(*, require_migrated: bool = True) -> Container:
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
