from __future__ import annotations

import typer

from cadenza.cli.common import console
from cadenza.config import Settings
from cadenza.schema import upgrade as run_upgrade

app = typer.Typer(help="Database migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database to the latest schema."""
    settings = Settings()
    run_upgrade(settings.database_url, revision)
    console.print(f"Database migrated to {revision}.")
