"""The FastAPI application: ingest, REST API, operator endpoints and the web UI."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

from cadenza import __version__
from cadenza.api.docs import mount_docs
from cadenza.api.idempotency import IdempotencyMiddleware
from cadenza.api.ingest_path import SegmentIngest
from cadenza.api.metrics import Metrics, MetricsMiddleware
from cadenza.api.problems import register_problem_handlers
from cadenza.api.routers import (
    api_keys,
    audit,
    companies,
    contacts,
    duplicates,
    events,
    fields,
    imports,
    ingest,
    jobs,
    ops,
    users,
)
from cadenza.bootstrap import Container

API_PREFIX = "/api/v1"


class CadenzaApp(FastAPI):
    """FastAPI with Segment calls answered in front of its middleware (`cadenza.api.ingest_path`)."""

    def build_middleware_stack(self) -> ASGIApp:
        return SegmentIngest(super().build_middleware_stack(), self.state.container, self.state.metrics)


def create_app(container: Container) -> FastAPI:
    app = CadenzaApp(
        title="Cadenza",
        version=__version__,
        description="Marketing automation API: Segment-compatible ingest under /v1, management under /api/v1.",
        docs_url=None,  # served by mount_docs from installed files, not a CDN
        redoc_url=None,
    )
    app.state.container = container
    metrics = Metrics()
    metrics.watch_queue(lambda: container.queue.depth(container.clock.now()))
    app.state.metrics = metrics
    register_problem_handlers(app)
    mount_docs(app)
    app.include_router(ops.router)
    app.include_router(ingest.router, prefix=ingest.PREFIX, tags=["ingest"])
    for module, tag in ((contacts, "contacts"), (events, "events"), (companies, "companies"), (fields, "fields"),
                        (imports, "imports"), (duplicates, "duplicates"), (users, "users"),
                        (api_keys, "api-keys"), (audit, "audit-log"), (jobs, "jobs")):
        app.include_router(module.router, prefix=API_PREFIX, tags=[tag])
    app.add_middleware(IdempotencyMiddleware, container=container, prefix=API_PREFIX)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
