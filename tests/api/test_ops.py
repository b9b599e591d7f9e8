"""Operator endpoints: /healthz, /readyz (database, migrations, a live worker) and /metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cadenza.api import create_app
from cadenza.auth import Scope
from cadenza.bootstrap import Container, build_container
from cadenza.config import Settings
from cadenza.core.clock import FrozenClock
from cadenza.workers.loop import Worker
from tests.conftest import Actors
from tests.storage.factories import make_job


@pytest.fixture
def api(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def _app_on(url: str, tmp_path: Path) -> tuple[TestClient, Container]:
    container = build_container(Settings(database_url=url, secret_key="s", data_dir=tmp_path))
    return TestClient(create_app(container)), container


def test_healthz_answers(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}


def test_readyz_needs_a_worker_that_beat_within_a_minute(api: TestClient, container: Container,
                                                         clock: FrozenClock) -> None:
    response = api.get("/readyz")
    assert response.status_code == 503
    head = container.migration_status().head
    assert response.json() == {"status": "unavailable", "checks": {
        "database": {"ok": True},
        "migrations": {"ok": True, "current": head, "head": head},
        "worker": {"ok": False, "alive": 0, "last_heartbeat": None},
    }}

    Worker(container).heartbeat(force=True)
    clock.advance(seconds=60)
    ready = api.get("/readyz")
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")
    assert ready.json()["checks"]["worker"] == {"ok": True, "alive": 1, "last_heartbeat": "2026-01-01T12:00:00+00:00"}

    clock.advance(seconds=1)
    stale = api.get("/readyz")
    assert stale.status_code == 503
    assert stale.json()["checks"]["worker"] == {"ok": False, "alive": 0,
                                                "last_heartbeat": "2026-01-01T12:00:00+00:00"}


def test_readyz_reports_an_unmigrated_database(tmp_path: Path) -> None:
    client, container = _app_on(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    try:
        response = client.get("/readyz")
    finally:
        container.close()

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": True}
    assert checks["migrations"] == {"ok": False, "current": None, "head": container.migration_status().head}
    assert checks["worker"]["ok"] is False


def test_readyz_reports_an_unreachable_database(tmp_path: Path) -> None:
    client, container = _app_on(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'db.sqlite'}", tmp_path)
    try:
        response = client.get("/readyz")
    finally:
        container.close()

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable",
                               "checks": {"database": {"ok": False, "error": "OperationalError"}}}


def test_metrics_count_requests_by_route_template(api: TestClient, actors: Actors) -> None:
    headers = actors.alice.headers(Scope.READ)
    api.get("/api/v1/jobs/1", headers=headers)
    api.get("/api/v1/jobs/2", headers=headers)
    api.get("/healthz")
    api.get("/no/such/page")

    text = api.get("/metrics").text

    assert 'cadenza_http_requests_total{method="GET",route="/api/v1/jobs/{job_id}",status="404"} 2.0' in text
    assert 'cadenza_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'cadenza_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'cadenza_http_request_duration_seconds_count{method="GET",route="/api/v1/jobs/{job_id}"} 2.0' in text
    assert 'cadenza_http_request_duration_seconds_bucket{le="10.0",method="GET",route="/healthz"} 1.0' in text
    assert "/api/v1/jobs/1" not in text


def test_metrics_expose_ingest_counters(api: TestClient) -> None:
    metrics = api.app.state.metrics  # type: ignore[attr-defined]
    metrics.ingested.labels(type="track").inc(3)
    metrics.ingest_duplicates.inc()

    text = api.get("/metrics").text

    assert 'cadenza_ingested_events_total{type="track"} 3.0' in text
    assert "cadenza_ingest_duplicates_total 1.0" in text
    assert "cadenza_ingest_rejected_total 0.0" in text


def test_metrics_expose_queue_depth_and_oldest_age(api: TestClient, container: Container) -> None:
    assert "cadenza_queue_depth 0.0" in api.get("/metrics").text
    make_job(container, due_in=dt.timedelta(seconds=-90))
    make_job(container, due_in=dt.timedelta(seconds=-5))
    make_job(container, due_in=dt.timedelta(hours=1))

    text = api.get("/metrics").text

    assert "cadenza_queue_depth 2.0" in text
    assert "cadenza_queue_oldest_age_seconds 90.0" in text
