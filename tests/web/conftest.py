"""Fixtures for UI tests over a TestClient: signed-in clients for the standing actors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import Actor
from tests.web.ui import SignIn, sign_in


@pytest.fixture
def sign_in_as(app: FastAPI) -> Iterator[SignIn]:
    """A new browser-like client signed in as `actor`."""
    clients: list[TestClient] = []

    def make(actor: Actor) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        response = sign_in(client, actor.email, actor.password)
        assert response.status_code == 303, response.text
        return client

    yield make
    for client in clients:
        client.close()
