"""Operator endpoints: liveness, readiness, Prometheus metrics.

`/readyz` answers 200 only when the database answers, its schema is at the code's migration head, and at
least one worker beat within the last minute (workers beat every 5 s and remove their row when they stop
cleanly); otherwise 503, with every check and its details in the body.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text

from cadenza.api.deps import get_container
from cadenza.bootstrap import Container
from cadenza.storage.models import WorkerHeartbeat

router = APIRouter(tags=["operations"])

HEARTBEAT_STALE = dt.timedelta(seconds=60)


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable, migrations current, a worker alive")
def readyz(container: Container = Depends(get_container)) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        with container.db.read() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as error:
        checks["database"] = {"ok": False, "error": type(error).__name__}
        return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503)
    status = container.migration_status()
    checks["migrations"] = {"ok": status.is_current, "current": status.current, "head": status.head}
    checks["worker"] = _worker_check(container)
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)


def _worker_check(container: Container) -> dict[str, Any]:
    now = container.clock.now()
    try:
        with container.db.read() as session:
            beats = list(session.scalars(select(WorkerHeartbeat.heartbeat_at)))
    except Exception as error:  # no heartbeat table yet: the migrations check says why
        return {"ok": False, "alive": 0, "last_heartbeat": None, "error": type(error).__name__}
    latest = max(beats, default=None)
    alive = sum(1 for beat in beats if now - beat <= HEARTBEAT_STALE)
    return {"ok": alive > 0, "alive": alive, "last_heartbeat": latest.isoformat() if latest else None}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
