"""Writing audit entries inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from cadenza.auth.models import AuditEntry
from cadenza.auth.roles import Principal


def record_audit(
    session: Session,
    principal: Principal,
    action: str,
    *,
    at: dt.datetime,
    target_type: str = "",
    target_id: str | int = "",
    changes: dict[str, Any] | None = None,
    note: str | None = None,
    ip_address: str | None = None,
) -> None:
    """Add an audit entry to the open unit of work; it commits, or not, with the change it describes."""
    session.add(
        AuditEntry(
            workspace_id=principal.workspace_id,
            actor_type=principal.kind,
            actor_id=principal.id,
            actor_label=principal.label,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            changes=changes or {},
            note=note,
            ip_address=ip_address,
            created_at=at,
        )
    )
