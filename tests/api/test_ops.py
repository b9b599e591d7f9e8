from __future__ import annotations

from fastapi.testclient import TestClient

from cadenza.bootstrap import Container
from cadenza.workers.loop import Worker
from tests.conftest import Actors


def test_healthz_answers(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_needs_a_live_worker(client: TestClient, container: Container) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False

    Worker(container).heartbeat(force=True)
    assert client.get("/readyz").status_code == 200


def test_metrics_are_prometheus_text(client: TestClient, actors: Actors) -> None:
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'cadenza_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "cadenza_queue_depth 0.0" in text
