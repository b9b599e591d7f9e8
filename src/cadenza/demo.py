"""The demo workspace that `cadenza serve --demo` creates: an admin, an ingest key, realistic data."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from cadenza.auth import Principal, Scope
from cadenza.auth.models import Workspace
from cadenza.bootstrap import Container
from cadenza.events.sample import demo_traffic

DEMO_WORKSPACE = "Acme Demo"
DEMO_ADMIN = "admin@example.com"


@dataclass(frozen=True)
class DemoCredentials:
    admin_email: str
    admin_password: str | None  # None when the demo workspace already existed
    ingest_key: str
    workspace_id: int


def seed_demo(container: Container, *, contacts: int = 2000) -> DemoCredentials:
    """Creates the demo workspace once. On later runs it only issues a fresh ingest key."""
    with container.db.read() as session:
        workspace_id = session.scalar(select(Workspace.id).where(Workspace.name == DEMO_WORKSPACE))
    password: str | None = None
    if workspace_id is None:
        password = secrets.token_urlsafe(12)
        owner = container.access.create_workspace(DEMO_WORKSPACE, DEMO_ADMIN, password, "Demo Admin")
        workspace_id = owner.workspace_id
        fill_demo_data(container, owner, contacts=contacts)
    system = Principal.system(workspace_id, "cadenza demo")
    _key, raw = container.access.create_api_key(system, "Demo ingest key", Scope.INGEST)
    return DemoCredentials(DEMO_ADMIN, password, raw, workspace_id)


def fill_demo_data(container: Container, owner: Principal, *, contacts: int = 2000) -> None:
    """Companies, contacts and 90 days of their events, sent as Segment calls through the ingest service
    (so identity resolution, stitching and company links happen exactly as for real traffic)."""
    for batch in demo_traffic(container.clock.now(), contacts=contacts, rng=random.Random(42)):
        container.ingest.ingest(owner, batch, source="demo")
