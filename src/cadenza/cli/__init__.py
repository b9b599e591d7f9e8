"""The `cadenza` command line."""

from cadenza.cli.app import app, main

__all__ = ["app", "main"]
