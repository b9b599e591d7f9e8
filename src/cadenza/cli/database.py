"""`cadenza db upgrade` and `cadenza db status`: the schema migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from cadenza.cli.common import console, err_console
from cadenza.config import Settings

if TYPE_CHECKING:
    from cadenza.schema import MigrationStatus

app = typer.Typer(help="Database migrations.", no_args_is_help=True)


def _status(url: str) -> MigrationStatus:
    from cadenza.schema import migration_status
    from cadenza.storage.database import build_engine

    engine = build_engine(url)
    try:
        return migration_status(engine)
    except Exception as error:
        err_console.print(f"[red]Cannot reach the database:[/red] {error}", highlight=False)
        raise typer.Exit(2)
    finally:
        engine.dispose()


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database to the latest schema. Safe to run again: an up-to-date database is left as is."""
    url = Settings().database_url
    before = _status(url)
    if revision == "head" and before.is_current:
        console.print(f"Database already at the latest schema ({before.head}).")
        return
    from cadenza.schema import upgrade as run_upgrade

    run_upgrade(url, revision)
    after = _status(url)
    console.print(f"Database migrated from {before.current or 'an empty schema'} to {after.current}.")


@app.command("status")
def status() -> None:
    """Show the database's schema revision and the one this code expects. Exits 1 when they differ."""
    current = _status(Settings().database_url)
    console.print(f"Database at {current.current or 'an empty schema'}; code expects {current.head}.")
    if not current.is_current:
        console.print("Run: [bold]cadenza db upgrade[/bold]")
        raise typer.Exit(1)
