"""Operator endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from cadenza.api.deps import get_container
from cadenza.bootstrap import Container
from cadenza.storage.models import WorkerHeartbeat

router = APIRouter(tags=["operations"])

HEARTBEAT_STALE = dt.timedelta(seconds=60)


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable, migrations current, a worker alive")
def readyz(request: Request, container: Container = Depends(get_container)) -> JSONResponse:
    checks: dict[str, Any] = {}
    ready = True
    try:
        with container.db.read() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as error:
        checks["database"] = {"ok": False, "error": type(error).__name__}
        return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503)
    status = container.migration_status()
    checks["migrations"] = {"ok": status.is_current, "current": status.current, "head": status.head}
    ready &= status.is_current
    now = container.clock.now()
    with container.db.read() as session:
        latest = session.scalar(select(func.max(WorkerHeartbeat.heartbeat_at)))
    if isinstance(latest, str):
        latest = dt.datetime.fromisoformat(latest)
    if latest is not None and latest.tzinfo is None:
        latest = latest.replace(tzinfo=dt.UTC)
    worker_ok = latest is not None and now - latest <= HEARTBEAT_STALE
    checks["worker"] = {"ok": worker_ok, "last_heartbeat": latest.isoformat() if latest else None}
    ready &= worker_ok
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
