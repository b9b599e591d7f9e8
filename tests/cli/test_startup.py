"""The `cadenza` command loads the application only in the commands that use it.

multiprocessing starts each of an import's worker processes by importing the `cadenza` script again (spawn):
everything the command's modules import at their top is paid once more per worker before it reads a row
(the web app, the migrations and the container took ~0.9 s of a worker's ~1.4 s start)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("cadenza.bootstrap", "cadenza.web", "cadenza.schema", "fastapi", "alembic", "uvicorn")


def test_importing_the_command_line_loads_neither_the_web_app_nor_the_migrations() -> None:
    probe = f"import json, sys, cadenza.cli; print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout

    assert json.loads(loaded) == []
