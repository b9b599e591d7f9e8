"""Cursor pagination for pages: Next follows the service's cursor; Previous walks back a short trail.

Cursors only go forward, so each page's URL carries the cursors of the pages before it (`trail`).
The trail is capped, so a very deep page can still go back a long way but its URL stays short.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from cadenza.web.templating import url_with

FIRST_PAGE = "start"
MAX_TRAIL = 40
SEPARATOR = "~"


@dataclass(frozen=True)
class Pager:
    page_number: int
    prev_url: str | None
    next_url: str | None
    first_url: str | None


def _trail(request: Request) -> list[str]:
    raw = request.query_params.get("trail") or ""
    return [part for part in raw.split(SEPARATOR) if part][-MAX_TRAIL:]


def pager(request: Request, next_cursor: str | None, *, cursor_param: str = "cursor") -> Pager:
    current = request.query_params.get(cursor_param) or None
    trail = _trail(request)
    next_url = None
    if next_cursor:
        forward = [*trail, current or FIRST_PAGE][-MAX_TRAIL:]
        next_url = url_with(request, **{cursor_param: next_cursor, "trail": SEPARATOR.join(forward)})
    prev_url = first_url = None
    if current:
        previous = trail[-1] if trail else FIRST_PAGE
        back = None if previous == FIRST_PAGE else previous
        prev_url = url_with(request, **{cursor_param: back, "trail": SEPARATOR.join(trail[:-1]) or None})
        if back is not None:
            first_url = url_with(request, **{cursor_param: None, "trail": None})
    return Pager(page_number=len(trail) + 1 if current else 1, prev_url=prev_url, next_url=next_url,
                 first_url=first_url)
