"""`cadenza import contacts FILE.csv`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Import data.", no_args_is_help=True)
