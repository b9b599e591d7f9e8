"""Prometheus metrics: requests, ingested events, queue depth and age."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("cadenza_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("cadenza_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.ingested = Counter("cadenza_ingested_events", "Events stored by the ingest API", ["type"],
                                registry=self.registry)
        self.ingest_duplicates = Counter("cadenza_ingest_duplicates", "Events skipped as duplicate messageId",
                                         registry=self.registry)
        self.ingest_rejected = Counter("cadenza_ingest_rejected", "Messages rejected by validation",
                                       registry=self.registry)

    def watch_queue(self, depth: Callable[[], tuple[int, float]]) -> None:
        self.registry.register(_QueueCollector(depth))


class _QueueCollector(Collector):
    def __init__(self, depth: Callable[[], tuple[int, float]]) -> None:
        self.depth = depth

    def collect(self) -> Iterable[Any]:
        try:
            count, age = self.depth()
        except Exception:  # the database may be down; /readyz says so
            return
        yield GaugeMetricFamily("cadenza_queue_depth", "Due jobs waiting to run", value=count)
        yield GaugeMetricFamily("cadenza_queue_oldest_age_seconds", "Age of the oldest due job", value=age)


class MetricsMiddleware:
    """Counts requests by route template (not raw path, so ids don't explode the label set)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            template = route_template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's path template with its router prefix (`/api/v1/jobs/{job_id}`), or "unmatched".

    A route included with a prefix knows only its own part (`/jobs/{job_id}`); the prefix is the start of
    the request path before the part the route's pattern matches.
    """
    route = scope.get("route")
    if route is None:
        return "unmatched"
    own = str(getattr(route, "path_format", None) or getattr(route, "path", None) or "")
    pattern = getattr(route, "path_regex", None)
    path: str = scope.get("path", "")
    if pattern is not None:
        starts = [index for index, char in enumerate(path) if char == "/"] + [len(path)]
        for index in starts:
            if pattern.match(path[index:]):
                return path[:index] + own
    return own or "unmatched"
