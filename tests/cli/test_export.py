"""`cadenza export contacts FILE.csv`, in-process through Typer's runner."""

from __future__ import annotations

import csv
from pathlib import Path

from cadenza.bootstrap import Container
from tests.cli.operator import cli_env, run_cli
from tests.conftest import Actors
from tests.contacts.factories import audit_entries, make_contact


def _emails(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as source:
        return [row["email"] for row in csv.DictReader(source)]


def test_exports_a_workspace_s_contacts_to_a_file_and_refuses_to_overwrite_it(
        container: Container, actors: Actors, database_url: str, tmp_path: Path) -> None:
    make_contact(container, actors.alice.principal, email="ada@example.com", tags=["vip"])
    make_contact(container, actors.alice.principal, email="grace@example.com")
    make_contact(container, actors.charlie.principal, email="charlie@example.com")
    out = tmp_path / "contacts.csv"
    env = cli_env(database_url, tmp_path)

    result = run_cli(["export", "contacts", str(out), "--workspace", str(actors.alice.workspace_id)], env)

    assert result.exit_code == 0, result.output
    assert "Exported 2 contacts to" in result.stdout
    assert _emails(out) == ["grace@example.com", "ada@example.com"]
    assert audit_entries(container, "contacts.exported")

    again = run_cli(["export", "contacts", str(out), "-w", str(actors.alice.workspace_id), "--tag", "vip"], env)
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    assert _emails(out) == ["grace@example.com", "ada@example.com"]

    tagged = run_cli(["export", "contacts", str(out), "-w", str(actors.alice.workspace_id), "--tag", "vip",
                      "--overwrite"], env)
    assert tagged.exit_code == 0, tagged.output
    assert _emails(out) == ["ada@example.com"]


def test_exports_to_standard_output(container: Container, actors: Actors, database_url: str, tmp_path: Path) -> None:
    make_contact(container, actors.alice.principal, email="ada@example.com")

    result = run_cli(["export", "contacts", "-", "-w", str(actors.alice.workspace_id)], cli_env(database_url, tmp_path))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("id,email,") and "ada@example.com" in lines[1] and len(lines) == 2
