"""`cadenza users …` and `cadenza keys …` for scripting."""

from __future__ import annotations

import typer

users = typer.Typer(help="Users and their roles.", no_args_is_help=True)
keys = typer.Typer(help="API keys.", no_args_is_help=True)
