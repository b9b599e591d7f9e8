"""`cadenza` commands: serve, worker, db, users, keys, import, export, jobs, demo."""

from __future__ import annotations

import logging

import typer

from cadenza.cli import admin, database, exporting, importing, jobs, server

app = typer.Typer(help="Cadenza: open-source marketing automation.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.command("serve")(server.serve)
app.command("worker")(server.worker)
app.command("demo")(server.demo)
app.add_typer(database.app, name="db")
app.add_typer(admin.users, name="users")
app.add_typer(admin.keys, name="keys")
app.add_typer(importing.app, name="import")
app.add_typer(exporting.app, name="export")
app.add_typer(jobs.app, name="jobs")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic names each plugin it sets up at INFO when first imported, which the commands do after this line.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    app()
