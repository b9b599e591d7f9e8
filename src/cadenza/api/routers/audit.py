"""The audit log: who changed what, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from cadenza.api.deps import can_admin, get_container
from cadenza.api.problems import problems
from cadenza.api.routers.users import Cursor, Limit
from cadenza.auth import Principal
from cadenza.auth.schemas import AuditEntryOut, AuditPage
from cadenza.bootstrap import Container

router = APIRouter()

NO_NUL = r"^[^\x00]*$"


def _text(max_length: int, description: str | None = None) -> Any:
    return Query(None, max_length=max_length, pattern=NO_NUL, description=description)


@router.get("/audit-log", responses=problems(), summary="The audit log, newest first",
            description="Filters combine with AND and match exactly.")
def list_audit_log(
    limit: Limit = None,
    cursor: Cursor = None,
    action: str | None = _text(100, "e.g. user.created"),
    actor_type: str | None = _text(20, "user, api_key, system or anonymous (a failed sign-in)"),
    actor_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    target_type: str | None = _text(50, "e.g. user, api_key, contact"),
    target_id: str | None = _text(100),
    principal: Principal = Depends(can_admin),
    container: Container = Depends(get_container),
) -> AuditPage:
    page = container.access.list_audit(principal, limit=limit, cursor=cursor or None, action=action,
                                       actor_type=actor_type, actor_id=actor_id, target_type=target_type,
                                       target_id=target_id)
    return AuditPage(data=[AuditEntryOut.model_validate(entry) for entry in page.items],
                     next_cursor=page.next_cursor)
