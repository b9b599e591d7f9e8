"""The server-rendered web UI."""

from __future__ import annotations

from fastapi import FastAPI

from cadenza.api import create_app
from cadenza.bootstrap import Container


def create_server_app(container: Container) -> FastAPI:
    """The API plus the web UI: what `cadenza serve` runs."""
    from cadenza.web.routes import mount_ui

    app = create_app(container)
    mount_ui(app, container)
    return app
