"""`cadenza import contacts FILE.csv` and `cadenza import resume ID`: CSV imports run in this process.

The CLI acts as `Principal.system(workspace, "cli")`. Exit codes: 0 when the import ran to its end, even if
some rows failed (they are counted and the first ones listed, with their line numbers: a partly bad file is
an expected outcome, not a failure of the command); 1 when the import stopped (a database error, Ctrl-C):
it can be resumed with `cadenza import resume ID`; 2 for bad input (no such file or workspace, several
workspaces and no --workspace, a mapping or region that cannot be used, a file that cannot be read as CSV).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from cadenza.auth import Principal
from cadenza.cli.common import console, err_console, operator_container
from cadenza.core.errors import NotFound, ValidationFailed

if TYPE_CHECKING:
    from cadenza.bootstrap import Container
    from cadenza.contacts.models import ContactImport

app = typer.Typer(help="Import data.", no_args_is_help=True)

CLI_ACTOR = "cli"
SHOWN_ERRORS = 10


def workspace_principal(container: Container, workspace: str | None) -> Principal:
    """--workspace as a slug or an id; without it, the only workspace."""
    try:
        found = container.access.find_workspace(workspace)
    except NotFound:
        if workspace is None or not workspace.isdigit():
            raise
        found = container.access.get_workspace(Principal.system(int(workspace), CLI_ACTOR))
    if found is None:
        raise NotFound("There is no workspace yet: `cadenza users create` makes the first one.")
    return Principal.system(found.id, CLI_ACTOR)


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """["E-mail=email", "Plan=field:plan"] → {"E-mail": "email", "Plan": "field:plan"}."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        header, separator, target = pair.rpartition("=")
        if not separator or not header.strip() or not target.strip():
            raise ValidationFailed(f"--map {pair!r} is not HEADER=TARGET.", errors=[{"field": "map"}])
        mapping[header.strip()] = target.strip()
    return mapping


@app.command("contacts")
def import_contacts(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The CSV file."),
    mapping: list[str] = typer.Option([], "--map", "-m", metavar="HEADER=TARGET",
                                      help="Map a column (repeatable): email, first_name, last_name, phone, company, "
                                           "external_id, tags, timezone, field:<key>, attributes.<name> or ignore. "
                                           "Unmapped columns keep the guessed target."),
    no_update: bool = typer.Option(False, "--no-update", help="Leave existing contacts as they are."),
    workspace: str | None = typer.Option(None, "--workspace", "-w", help="Workspace slug or id; needed when there "
                                                                        "are several."),
    region: str | None = typer.Option(None, "--region", help="Country (e.g. GB) of phone numbers written "
                                                             "without a +country code."),
    keep_unmapped: bool = typer.Option(False, "--keep-unmapped", help="Keep columns nothing matches as "
                                                                      "attributes.<name> instead of ignoring them."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Import contacts from a CSV file, in this process, with a progress bar.

    Exit code 0 when the import ran to its end, failed rows included (they are counted and listed with their
    line numbers); 1 when it stopped half-way (resume it with `cadenza import resume ID`); 2 for bad input.
    """
    with operator_container() as container:
        principal = workspace_principal(container, workspace)
        with file.open("rb") as source:
            contact_import = container.imports.create_import(
                principal, file.name, source, parse_mapping(mapping) or None, not no_update, default_region=region,
                keep_unmapped=keep_unmapped, run_in_background=False)
        if not as_json:
            console.print(f"Import {contact_import.id}: {file.name} ({contact_import.encoding}, "
                          f"{_delimiter_name(contact_import.delimiter)}-separated)", highlight=False)
            for header, target in contact_import.mapping.items():
                console.print(f"  {header} → {target}", highlight=False)
        _run(container, principal, contact_import, as_json)


@app.command("resume")
def resume_import(
    import_id: int = typer.Argument(..., help="The import to resume."),
    workspace: str | None = typer.Option(None, "--workspace", "-w", help="Workspace slug or id."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Resume an import that stopped (failed or interrupted) after its last committed chunk."""
    with operator_container() as container:
        principal = workspace_principal(container, workspace)
        _run(container, principal, container.imports.get_import(principal, import_id), as_json)


def _run(container: Container, principal: Principal, contact_import: ContactImport, as_json: bool) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=as_json) as progress:
        task = progress.add_task("Importing", total=contact_import.bytes_total or None,
                                 completed=contact_import.bytes_done)
        try:
            done = container.imports.run_import(
                contact_import.id, progress=lambda current: progress.update(task, completed=current.bytes_done))
        except (Exception, KeyboardInterrupt) as stopped:
            progress.stop()
            err_console.print(f"[red]The import stopped:[/red] {stopped or type(stopped).__name__}. What was committed "
                              f"stays; resume with: cadenza import resume {contact_import.id}", highlight=False)
            raise typer.Exit(1) from None
    errors = container.imports.list_import_errors(principal, done.id, limit=SHOWN_ERRORS).items
    if as_json:
        print(json.dumps({
            "import_id": done.id, "status": done.status, "rows_total": done.rows_total,
            "rows_created": done.rows_created, "rows_updated": done.rows_updated, "rows_skipped": done.rows_skipped,
            "rows_failed": done.rows_failed,
            "errors": [{"line": e.line, "column": e.column, "message": e.message} for e in errors],
        }))
    else:
        console.print(f"{done.status.capitalize()}: {done.rows_total:,} rows — {done.rows_created:,} created, "
                      f"{done.rows_updated:,} updated, {done.rows_skipped:,} unchanged, {done.rows_failed:,} failed.",
                      highlight=False)
        for row_error in errors:
            where = f"line {row_error.line}" + (f", {row_error.column}" if row_error.column else "")
            console.print(f"  {where}: {row_error.message}", highlight=False)
        if done.rows_failed > len(errors):
            console.print(f"  … the full error report: GET /api/v1/imports/{done.id}/errors.csv", highlight=False)
    if done.status != "done":
        raise typer.Exit(1)


def _delimiter_name(delimiter: str | None) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter or ",", repr(delimiter))
