"""Rendering pages: the Jinja2 environment, its filters, and the render/redirect helpers routes use."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from cadenza.api.deps import get_container
from cadenza.web.flash import Flash, forget_flashes, read_flashes, set_flash

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class UiConfig:
    """What the UI needs from the settings, resolved once when the UI is mounted."""

    secret: bytes
    secure_cookies: bool
    base_url: str
    session_max_age: int


def ui_config(request: Request) -> UiConfig:
    return request.app.state.ui_config  # type: ignore[no-any-return]


# ---- filters ---------------------------------------------------------------------------------

def format_datetime(value: dt.datetime | None, style: str = "long") -> str:
    if value is None:
        return "—"
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    if style == "date":
        return f"{value:%b} {value.day}, {value.year}"
    return f"{value:%b} {value.day}, {value.year}, {value:%H:%M}"


def time_ago(value: dt.datetime | None, now: dt.datetime) -> str:
    if value is None:
        return "never"
    seconds = int((now - value).total_seconds())
    if seconds < 0:
        return "in the future"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def format_number(value: int | float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,}"


def summarise(value: Any, limit: int = 120) -> str:
    """A one-line summary of event properties or audit changes: `key: value, key: value…`."""
    if not value:
        return ""
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            shown = item if isinstance(item, str) else json.dumps(item, default=str, ensure_ascii=False)
            parts.append(f"{key}: {shown}")
        text = ", ".join(parts)
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_changes(changes: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Audit changes as (field, text): a `[before, after]` pair reads `before → after`."""
    described = []
    for key, value in (changes or {}).items():
        if isinstance(value, list) and len(value) == 2 and not isinstance(value[0], (dict, list)):
            shown = f"{_plain(value[0])} → {_plain(value[1])}"
        else:
            shown = _plain(value)
        described.append((key, shown if len(shown) <= 160 else shown[:159] + "…"))
    return described


def _plain(value: Any) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def initials(value: str | None) -> str:
    words = [w for w in (value or "").replace("@", " ").replace(".", " ").split() if w]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def _static_versions() -> dict[str, str]:
    versions = {}
    for path in STATIC.rglob("*"):
        if path.is_file():
            versions[path.relative_to(STATIC).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    return versions


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    versions = _static_versions()

    def static_url(path: str) -> str:
        return f"/static/{path}?v={versions.get(path, '0')}"

    env.globals["static_url"] = static_url
    env.filters["datetime"] = format_datetime
    env.filters["number"] = format_number
    env.filters["summary"] = summarise
    env.filters["initials"] = initials
    env.filters["changes"] = describe_changes
    return env


_ENVIRONMENT: Environment | None = None


def environment() -> Environment:
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        _ENVIRONMENT = build_environment()
    return _ENVIRONMENT


# ---- responses -------------------------------------------------------------------------------

def url_with(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page, with the layout's context: who is signed in, flashes, the clock's now."""
    config = ui_config(request)
    now = get_container(request).clock.now()
    session = getattr(request.state, "ui_session", None)
    flashes = read_flashes(request, config.secret)
    context.setdefault("section", "")
    html = environment().get_template(template).render(
        request=request,
        session=session,
        flashes=flashes,
        now=now,
        ago=lambda value: time_ago(value, now),
        url_with=lambda **changes: url_with(request, **changes),
        csrf_field=Markup('<input type="hidden" name="csrf_token" value="{}">').format(session.csrf_token)
        if session else Markup(""),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    forget_flashes(request, response, secure=config.secure_cookies)
    return response


def redirect(request: Request, url: str, *flashes: Flash) -> Response:
    """POST/redirect/GET, optionally carrying flash messages to the next page."""
    response = RedirectResponse(url, status_code=303)
    if flashes:
        config = ui_config(request)
        set_flash(response, config.secret, list(flashes), secure=config.secure_cookies)
    return response


def success(message: str) -> Flash:
    return Flash("success", message)


def error(message: str) -> Flash:
    return Flash("error", message)
