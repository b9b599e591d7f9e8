"""Running `cadenza` commands in tests: in-process with Typer's runner, or as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from cadenza.cli import app

CADENZA = str(Path(sys.executable).parent / "cadenza")


def cli_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {"CADENZA_DATABASE_URL": database_url, "CADENZA_DATA_DIR": str(data_dir),
            "CADENZA_SECRET_KEY": "test-secret-key", **extra}


def run_cli(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner(env=env).invoke(app, args, catch_exceptions=False)


def spawn(args: list[str], env: dict[str, str], *, log: Path | None = None) -> subprocess.Popen[str]:
    """`cadenza ARGS` as a child process with the test's environment added. Its output goes to pipes, or
    to the `log` file for a long-running process (a full pipe would block it)."""
    if log is None:
        return subprocess.Popen([CADENZA, *args], env={**os.environ, **env}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with log.open("w") as output:
        return subprocess.Popen([CADENZA, *args], env={**os.environ, **env}, text=True, stdout=output,
                                stderr=subprocess.STDOUT)
