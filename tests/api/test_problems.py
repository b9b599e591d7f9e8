"""Errors render as problem+json with the headers they carry."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cadenza.api.problems import register_problem_handlers
from cadenza.auth.errors import SignInThrottled


def test_a_throttled_caller_gets_429_with_retry_after() -> None:
    app = FastAPI()
    register_problem_handlers(app)

    @app.post("/sign-in")
    def sign_in() -> None:
        raise SignInThrottled("Too many failed sign-ins. Try again in 15 minutes.", retry_after=900)

    response = TestClient(app).post("/sign-in")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "900"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {"type": "https://cadenza.dev/problems/sign-in-throttled",
                               "title": "Too many sign-in attempts", "status": 429,
                               "detail": "Too many failed sign-ins. Try again in 15 minutes.",
                               "instance": "/sign-in", "retry_after": 900}
