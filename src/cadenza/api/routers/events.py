"""REST: /api/v1/events and /api/v1/contacts/{id}/events — stored events, newest first, cursor-paginated."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from cadenza.api.deps import can_read, get_container
from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.core.pagination import MAX_LIMIT, Page
from cadenza.events.schemas import EventOut, EventPage

router = APIRouter()

Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="Events per page (default 50).")]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_\-]*$",
                                     description="`next_cursor` of the previous page.")]
EventName = Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00]*$",
                                        description="Only events with this name (track event, page or screen name).")]
EventType = Literal["identify", "track", "page", "screen", "group", "alias", "internal"]
Since = Annotated[dt.datetime | None, Query(description="Only events that occurred at or after this time.")]
Until = Annotated[dt.datetime | None, Query(description="Only events that occurred before this time.")]

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or an invalid API key"},
    403: {"description": "Permission denied"},
    422: {"description": "Validation failed (a bad cursor, limit or time)"},
}


def _answer(page: Page[EventOut]) -> EventPage:
    return EventPage.model_construct(data=page.items, next_cursor=page.next_cursor)


@router.get("/contacts/{contact_id}/events", response_model=EventPage,
            responses={**_PROBLEMS, 404: {"description": "No such contact in this workspace"}},
            summary="A contact's timeline, newest first")
def contact_timeline(contact_id: Annotated[int, Path(ge=1, le=2**63 - 1)], limit: Limit = None, cursor: Cursor = None,
                     name: EventName = None, since: Since = None, until: Until = None,
                     principal: Principal = Depends(can_read),
                     container: Container = Depends(get_container)) -> EventPage:
    return _answer(container.events.timeline(principal, contact_id, limit=limit, cursor=cursor or None, name=name,
                                             since=since, until=until))


@router.get("/events", response_model=EventPage, responses=_PROBLEMS,
            summary="The workspace's events by time range, newest first")
def list_events(limit: Limit = None, cursor: Cursor = None, name: EventName = None,
                type: Annotated[EventType | None, Query(description="Only events of this type.")] = None,
                since: Since = None, until: Until = None, principal: Principal = Depends(can_read),
                container: Container = Depends(get_container)) -> EventPage:
    return _answer(container.events.list_events(principal, limit=limit, cursor=cursor or None, name=name, type=type,
                                                since=since, until=until))
