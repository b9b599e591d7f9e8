"""Settings → Audit log: who changed what, newest first, filterable by action. Admins only."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cadenza.api.deps import get_container
from cadenza.web.paging import pager
from cadenza.web.session import UiSession, current_session
from cadenza.web.templating import render
from cadenza.web.ui_route import UiRoute

router = APIRouter(route_class=UiRoute, prefix="/settings/audit")

PAGE_SIZE = 25
KNOWN_ACTIONS = (
    "workspace.created", "user.created", "user.updated", "user.signed_in", "api_key.created", "api_key.revoked",
    "contact.created", "contact.updated", "contact.deleted", "contact.merged", "import.created",
)


@router.get("", include_in_schema=False)
def audit_log(request: Request, action: str | None = None, cursor: str | None = None,
              session: UiSession = Depends(current_session)) -> Response:
    action = (action or "").strip() or None
    page = get_container(request).access.list_audit(session.principal, limit=PAGE_SIZE, cursor=cursor,
                                                    action=action)
    return render(request, "settings/audit.html", section="audit", entries=page.items, action=action or "",
                  known_actions=KNOWN_ACTIONS, pages=pager(request, page.next_cursor))
