"""`cadenza jobs list|retry|cancel|probe`: the operator's view of background work, in every workspace.

Nothing fails silently: `jobs list --status failed` shows what stopped and why, `jobs retry ID` runs it
again, `jobs cancel ID` stops it. `jobs probe` enqueues built-in `system.probe` jobs and reports which
workers ran them: a quick proof that the worker fleet claims and finishes work.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import typer
from rich.table import Table

from cadenza.cli.common import console, operator_container
from cadenza.storage.probe import MAX_HOLD_SECONDS, Probe
from cadenza.storage.queue import JobInfo
from cadenza.workers.jobs import JobService

app = typer.Typer(help="Background jobs: what failed and why, retry, cancel, probe the workers.",
                  no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _as_json(job: JobInfo) -> dict[str, Any]:
    return {name: value.isoformat() if hasattr(value, "isoformat") else value
            for name, value in dataclasses.asdict(job).items()}


def _show(job: JobInfo) -> None:
    progress = f"{job.progress_done}/{job.progress_total}" if job.progress_total else str(job.progress_done or "")
    console.print(f"Job {job.id} ({job.kind}) is {job.status}; attempts {job.attempts}/{job.max_attempts}, "
                  f"due {job.due_at:%Y-%m-%d %H:%M:%S}Z{', progress ' + progress if progress else ''}.",
                  highlight=False)


@app.command("list")
def list_jobs(
    status: str | None = typer.Option(None, "--status", help="queued, running, done, failed or cancelled."),
    kind: str | None = typer.Option(None, "--kind", help="Only jobs of this kind."),
    limit: int = typer.Option(50, "--limit", help="How many, newest first (at most 500)."),
    cursor: str | None = typer.Option(None, "--cursor", help="Continue after a previous page."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List jobs of every workspace, newest first."""
    with operator_container() as container:
        page = JobService(container.db, container.clock, container.queue).list_jobs(
            None, status=status, kind=kind, limit=limit, cursor=cursor)
    if as_json:
        console.print_json(json.dumps({"data": [_as_json(job) for job in page.items],
                                       "next_cursor": page.next_cursor}))
        return
    table = Table("id", "workspace", "kind", "status", "attempts", "due (UTC)", "progress", "last error")
    for job in page.items:
        table.add_row(str(job.id), str(job.workspace_id or "-"), job.kind, job.status,
                      f"{job.attempts}/{job.max_attempts}", f"{job.due_at:%Y-%m-%d %H:%M:%S}",
                      f"{job.progress_done}/{job.progress_total}" if job.progress_total else "",
                      (job.last_error or "")[:80])
    console.print(table)
    if page.next_cursor:
        console.print(f"More: --cursor {page.next_cursor}", highlight=False)


@app.command("retry")
def retry(job_id: int = typer.Argument(..., help="The job's id.")) -> None:
    """Run a failed or cancelled job again, now, with a fresh set of attempts."""
    with operator_container() as container:
        _show(JobService(container.db, container.clock, container.queue).retry_job(None, job_id))


@app.command("cancel")
def cancel(job_id: int = typer.Argument(..., help="The job's id.")) -> None:
    """Cancel a queued or running job (a running one stops at its next progress report)."""
    with operator_container() as container:
        _show(JobService(container.db, container.clock, container.queue).cancel_job(None, job_id))


@app.command("probe")
def probe(
    count: int = typer.Option(20, "--count", min=1, max=10_000, help="How many probe jobs to enqueue."),
    hold: float = typer.Option(0.0, "--hold", min=0, max=MAX_HOLD_SECONDS, help="Seconds each probe stays busy."),
    wait: float = typer.Option(60.0, "--wait", min=0, help="Seconds to wait for the workers to run them."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Enqueue probe jobs and report which workers ran them. Exits 1 unless every probe ran exactly once."""
    with operator_container() as container:
        probes = Probe(container.db, container.clock)
        ids = probes.enqueue_probes(count, hold_seconds=hold)
        deadline = time.monotonic() + wait
        report = probes.report(ids)
        while report.done < report.jobs and time.monotonic() < deadline:
            time.sleep(0.5)
            report = probes.report(ids)
    if as_json:
        console.print_json(json.dumps(dataclasses.asdict(report)))
    else:
        table = Table("worker", "probes run")
        for worker, runs in sorted(report.runs_by_worker.items()):
            table.add_row(worker, str(runs))
        console.print(table)
        console.print(f"{report.done} of {report.jobs} probes done; "
                      f"{report.jobs_run_more_than_once} ran more than once.", highlight=False)
    if report.done < report.jobs or report.jobs_run_more_than_once:
        raise typer.Exit(1)
