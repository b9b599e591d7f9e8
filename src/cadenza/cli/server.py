"""`cadenza serve`, `cadenza worker` and `cadenza demo`.

`serve` and `worker` refuse to start on a database that is not migrated (exit code 2, naming
`cadenza db upgrade`). `serve` runs the background worker in a thread unless `--no-worker`, and stops it
cleanly when the server stops (the current job finishes, the rest of its batch goes back to the queue).
Scale out on PostgreSQL with any number of `serve --no-worker` and `worker` processes; on SQLite run one
worker in all (the one inside `serve`, or one `worker` beside `serve --no-worker`).
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING

import typer

from cadenza.cli.common import console, err_console, open_container, warn_operator
from cadenza.core.heap import settle_server_heap

if TYPE_CHECKING:
    from cadenza.workers.loop import Worker


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    demo: bool = typer.Option(False, "--demo", help="Migrate, create a demo workspace and print its logins."),
    no_worker: bool = typer.Option(False, "--no-worker", help="Serve HTTP only; run `cadenza worker` apart."),
) -> None:
    """Run the API, the UI and (unless --no-worker) the background worker in one process."""
    import uvicorn

    from cadenza.config import Settings
    from cadenza.demo import seed_demo
    from cadenza.schema import upgrade
    from cadenza.web import create_server_app
    from cadenza.workers.loop import start_in_thread

    if demo:
        upgrade(Settings().database_url)
    container = open_container(require_migrated=True)
    warn_operator(container)
    if demo:
        with console.status("Preparing the demo workspace…"):
            credentials = seed_demo(container)
        console.rule("[bold]Cadenza demo[/bold]")
        console.print(f"UI:          http://{host}:{port}/")
        console.print(f"Admin login: {credentials.admin_email}")
        if credentials.admin_password:
            console.print(f"Password:    {credentials.admin_password}")
        else:
            console.print("Password:    (set when the demo was first created; `cadenza users create` adds users)")
        console.print(f"Ingest key:  {credentials.ingest_key}")
        console.rule()
    worker: tuple[Worker, threading.Thread] | None = None
    if not no_worker:
        worker = start_in_thread(container)
    app = create_server_app(container)
    settle_server_heap()
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        if worker is not None:
            runner, thread = worker
            runner.stop()
            thread.join(timeout=STOP_TIMEOUT_SECONDS)
        container.close()


def worker() -> None:
    """Run background work (jobs, outbox relay) until interrupted. Run as many as you like on PostgreSQL."""
    from cadenza.workers.loop import Worker

    container = open_container()
    warn_operator(container)
    if not container.db.is_postgres:
        err_console.print("[yellow]Warning:[/yellow] on SQLite run one worker in all: the one inside "
                          "`cadenza serve`, or this one beside `cadenza serve --no-worker`. "
                          "More workers add lock contention, not throughput; use PostgreSQL to scale out.")
    runner = Worker(container)

    def _stop(*_args: object) -> None:
        runner.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    console.print(f"Worker {runner.id} running. Ctrl-C stops it.")
    settle_server_heap()
    try:
        runner.run_forever()
    finally:
        container.close()


STOP_TIMEOUT_SECONDS = 60.0


def demo() -> None:
    """Create (or refresh) the demo workspace and print its logins."""
    from cadenza.demo import seed_demo

    container = open_container()
    try:
        credentials = seed_demo(container)
    finally:
        container.close()
    console.print(f"Admin: {credentials.admin_email} / {credentials.admin_password or '(unchanged)'}")
    console.print(f"Ingest key: {credentials.ingest_key}")
