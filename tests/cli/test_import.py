"""`cadenza import contacts FILE.csv` and `cadenza import resume ID`, in-process through Typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cadenza.auth.models import Workspace
from cadenza.bootstrap import Container
from cadenza.contacts import import_writer
from cadenza.contacts.models import Contact, ContactImport
from tests.cli.operator import cli_env, run_cli
from tests.conftest import Actors

CSV = ("Email,Prénom,Téléphone,Société\n"
       "ada@example.com,Ada,020 7946 0958,Acme\n"
       "nope,Bob,,\n"
       "grace@example.com,Grace,,Navy\n")


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def one_workspace(container: Container, actors: Actors) -> None:
    """The actors come with two workspaces; most CLI uses have one."""
    with container.db.transaction() as session:
        session.query(Workspace).filter(Workspace.id == actors.charlie.workspace_id).delete()


def contacts(container: Container) -> list[tuple[str | None, str | None, int]]:
    with container.db.read() as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(Contact.email, Contact.phone, Contact.workspace_id).order_by(Contact.id))]


def test_imports_into_the_only_workspace_and_reports_failures_with_line_numbers(
        container: Container, actors: Actors, database_url: str, tmp_path: Path, csv_file: Path) -> None:
    one_workspace(container, actors)

    result = run_cli(["import", "contacts", str(csv_file), "--region", "GB"], cli_env(database_url, tmp_path))

    assert result.exit_code == 0, result.output
    assert "Done: 3 rows — 2 created, 0 updated, 0 unchanged, 1 failed." in result.stdout
    assert "  line 3, Email: email An email address must have an @-sign." in result.stdout
    assert "  Téléphone → phone" in result.stdout
    ws = actors.alice.workspace_id
    assert contacts(container) == [("ada@example.com", "+442079460958", ws), ("grace@example.com", None, ws)]


def test_json_output_mapping_and_no_update(container: Container, actors: Actors, database_url: str,
                                          tmp_path: Path, csv_file: Path) -> None:
    env = cli_env(database_url, tmp_path)
    run_cli(["import", "contacts", str(csv_file), "-w", "acme"], env)  # Grace only: Ada's number needs a region

    result = run_cli(["import", "contacts", str(csv_file), "--workspace", str(actors.alice.workspace_id),
                      "--map", "Téléphone=ignore", "--map", "Prénom=last_name", "--no-update", "--json"], env)

    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert {k: v for k, v in outcome.items() if k != "import_id"} == {
        "status": "done", "rows_total": 3, "rows_created": 1, "rows_updated": 0, "rows_skipped": 1,
        "rows_failed": 1, "errors": [{"line": 3, "column": "Email", "message": "email An email address must have "
                                                                                "an @-sign."}]}
    with container.db.read() as session:
        stored = session.get(ContactImport, outcome["import_id"])
        assert stored is not None
        assert (stored.mapping, stored.update_existing, stored.created_by) == (
            {"Email": "email", "Prénom": "last_name", "Téléphone": "ignore", "Société": "company"}, False, "cli")


@pytest.mark.parametrize(("args", "message"), [
    ([], "There are several workspaces: name one with --workspace SLUG."),
    (["-w", "nowhere"], "No workspace with the slug 'nowhere'."),
    (["-w", "acme", "--map", "Email=nickname"], "The column mapping cannot be used: mapping.Email: 'nickname' is "
                                                "not a target"),
    (["-w", "acme", "--map", "Email"], "--map 'Email' is not HEADER=TARGET."),
    (["-w", "acme", "--region", "XX"], "'XX' is not a country code like GB or US."),
], ids=["several-workspaces", "unknown-workspace", "bad-target", "bad-map", "bad-region"])
def test_bad_input_exits_2_and_imports_nothing(container: Container, actors: Actors, database_url: str,
                                               tmp_path: Path, csv_file: Path, args: list[str], message: str) -> None:
    result = run_cli(["import", "contacts", str(csv_file), *args], cli_env(database_url, tmp_path, COLUMNS="300"))

    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ContactImport)) == 0


def test_an_import_that_stops_exits_1_and_resumes(container: Container, actors: Actors, database_url: str,
                                                  tmp_path: Path, csv_file: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    one_workspace(container, actors)
    env = cli_env(database_url, tmp_path)

    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database went away")

    real = import_writer.insert_rows
    monkeypatch.setattr(import_writer, "insert_rows", broken)
    stopped = run_cli(["import", "contacts", str(csv_file)], env)
    monkeypatch.setattr(import_writer, "insert_rows", real)

    assert stopped.exit_code == 1
    assert "The import stopped: database went away." in " ".join(stopped.stderr.split())
    with container.db.read() as session:
        import_id = session.scalar(select(ContactImport.id))
    assert contacts(container) == []

    resumed = run_cli(["import", "resume", str(import_id), "--json"], env)

    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["rows_created"] == 1  # Ada's national number needs --region
    assert [email for email, _, _ in contacts(container)] == ["grace@example.com"]
