"""`cadenza export contacts FILE.csv`: the contacts (all, or those a filter picks) as CSV, with a progress bar.

The same file as `GET /api/v1/contacts/export.csv` (see `cadenza.contacts.export`), written as it is read, so
any number of contacts fits in flat memory. `-` writes to standard output. The CLI acts as
`Principal.system(workspace, "cli")`; the export is recorded in the audit log. Exit code 2 for bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cadenza.cli.common import console, err_console, operator_container
from cadenza.cli.importing import workspace_principal

app = typer.Typer(help="Export data.", no_args_is_help=True)


@app.command("contacts")
def export_contacts(
    output: str = typer.Argument(..., metavar="FILE.csv", help="Where to write the CSV; - for standard output."),
    workspace: str | None = typer.Option(None, "--workspace", "-w", help="Workspace slug or id; needed when there "
                                                                        "are several."),
    tag: str | None = typer.Option(None, "--tag", help="Only contacts with this tag."),
    search: str | None = typer.Option(None, "--search", "-q", help="Only contacts whose email, name, phone or "
                                                                   "external id starts with this."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace FILE.csv if it exists."),
) -> None:
    """Export contacts as CSV, newest first: the columns an import maps back by itself."""
    path = None if output == "-" else Path(output)
    if path is not None and path.exists() and not overwrite:
        err_console.print(f"[red]Error:[/red] {path} exists; pass --overwrite to replace it.", highlight=False)
        raise typer.Exit(2)
    from cadenza.contacts.schemas import ContactFilters

    with operator_container() as container:
        principal = workspace_principal(container, workspace)
        filters = ContactFilters(tag=tag or None, q=search or None)
        total = None if (tag or search) else container.contacts.count_contacts(principal)
        lines = container.contacts.export_csv(principal, filters)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console, transient=path is None) as progress:
            task = progress.add_task("Exporting", total=total)
            out: TextIO = sys.stdout if path is None else path.open("w", encoding="utf-8", newline="")
            written = 0
            try:
                for index, chunk in enumerate(lines):
                    out.write(chunk)
                    rows = chunk.count("\r\n") - (1 if index == 0 else 0)  # the first chunk starts with the header
                    written += rows
                    progress.advance(task, rows)
            finally:
                if path is not None:
                    out.close()
        if path is not None:
            console.print(f"Exported {written:,} contacts to {path}.", highlight=False)
