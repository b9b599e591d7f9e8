"""UI routes. (Filled in by the web UI work.)"""

from __future__ import annotations

from fastapi import FastAPI

from cadenza.bootstrap import Container


def mount_ui(app: FastAPI, container: Container) -> None:
    return None
