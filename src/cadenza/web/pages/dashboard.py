"""The dashboard: headline counts and the latest imports."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cadenza.api.deps import get_container
from cadenza.web.overview import WorkspaceOverview
from cadenza.web.session import UiSession, current_session
from cadenza.web.templating import render
from cadenza.web.ui_route import UiRoute

router = APIRouter(route_class=UiRoute)

RECENT_IMPORTS = 5


@router.get("/", include_in_schema=False)
def dashboard(request: Request, session: UiSession = Depends(current_session)) -> Response:
    container = get_container(request)
    counts = WorkspaceOverview(container.db, container.clock).counts(session.principal)
    imports = container.imports.list_imports(session.principal, limit=RECENT_IMPORTS).items
    return render(request, "dashboard.html", section="dashboard", counts=counts, imports=imports)
