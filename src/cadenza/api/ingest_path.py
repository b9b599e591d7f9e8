"""The short way in for Segment calls: `POST /v1/<call>` answered in front of the framework's layers.

Ingest is the busiest endpoint by far (a site's every page view and click), and on one process its
throughput is bounded by Python work per request: FastAPI's middleware stack, routing and request
objects cost a fifth of what the rest of an ingest request costs. `SegmentIngest` sits outside them all
(`create_app` builds it in) and answers these calls itself with the router's own logic
(`cadenza.api.routers.ingest.answer`): the same auth, limits, answers and problem+json, and the same
request counters as `MetricsMiddleware` keeps. Everything else, the preflight OPTIONS of these paths
included, goes on to the application. The routes stay declared in the router, which documents them in
`/openapi.json` and serves them where this layer is not in front.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from cadenza.api.metrics import Metrics
from cadenza.api.routers.ingest import PREFIX, Answer, answer, call_paths
from cadenza.bootstrap import Container
from cadenza.events.schemas import MESSAGE_TYPES

# Each path the router serves a call at (`call_paths`): the call's kind.
PATHS: dict[str, str | None] = {PREFIX + path: kind for kind in (*MESSAGE_TYPES, None) for path in call_paths(kind)}
_GONE = 499  # the status counted when the client went away before its body came (nginx's spelling)


class SegmentIngest:
    def __init__(self, app: ASGIApp, container: Container, metrics: Metrics) -> None:
        self.app = app
        self.container = container
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" and scope["method"] == "POST" else ""
        if path not in PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless answered: an error of ours goes on up to the server, which logs it
        try:
            headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
            try:
                done = await answer(self.container, self.metrics, PATHS[path], path, headers, _chunks(receive))
            except ClientDisconnect:
                status = _GONE
                return
            status = done.status
            await _send(send, done)
        finally:
            self.metrics.requests.labels("POST", path, str(status)).inc()
            self.metrics.latency.labels("POST", path).observe(time.perf_counter() - started)


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _send(send: Send, done: Answer) -> None:
    headers = [(b"content-type", done.media_type.encode()), (b"content-length", str(len(done.body)).encode()),
               *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in done.headers.items())]
    await send({"type": "http.response.start", "status": done.status, "headers": headers})
    await send({"type": "http.response.body", "body": done.body})
