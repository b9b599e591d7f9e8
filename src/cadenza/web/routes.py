"""Mounts the UI on the application: static files, the page routers, HTML error pages."""

from __future__ import annotations

import inspect

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cadenza.api.docs import ImmutableStaticFiles
from cadenza.bootstrap import Container
from cadenza.web.pages import (
    api_keys,
    audit,
    auth,
    companies,
    contact_edit,
    contacts,
    dashboard,
    duplicates,
    fields,
    imports,
    users,
)
from cadenza.web.session import optional_session
from cadenza.web.templating import STATIC, UiConfig
from cadenza.web.ui_route import error_page

# Paths that belong to the API and keep their problem+json errors.
API_PATHS = ("/api/", "/v1/", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz", "/metrics", "/static/")


def mount_ui(app: FastAPI, container: Container) -> None:
    settings = container.settings
    app.state.ui_config = UiConfig(
        secret=settings.resolved_secret_key().encode(),
        secure_cookies=settings.secure_cookies,
        base_url=settings.base_url,
        session_max_age=settings.session_max_age_seconds,
    )
    app.mount("/static", ImmutableStaticFiles(directory=STATIC), name="static")  # fingerprinted: ?v=<hash>
    pages = (auth, dashboard, duplicates, contacts, contact_edit, companies, imports, fields, users, api_keys, audit)
    for module in pages:
        app.include_router(module.router)
    _html_errors_outside_the_api(app)


def _html_errors_outside_the_api(app: FastAPI) -> None:
    """A browser that asks for a page that does not exist gets a page, not problem+json."""
    api_handler = app.exception_handlers.get(StarletteHTTPException)

    async def handle(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        wants_html = "text/html" in request.headers.get("accept", "")
        if api_handler is None or (wants_html and not request.url.path.startswith(API_PATHS)):
            optional_session(request)
            detail = "There is no page at this address." if error.status_code == 404 else str(error.detail)
            return error_page(request, error.status_code, detail)
        answer = api_handler(request, error)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(StarletteHTTPException, handle)
