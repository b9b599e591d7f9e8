"""/docs: Swagger UI, with its JavaScript and CSS served from an installed package.

FastAPI's own page loads these from a CDN; a Cadenza server may have no internet. The files come from the
`fastapi-offline` package (Swagger UI 5, which renders the OpenAPI 3.1 documents FastAPI writes; the
`swagger-ui-bundle` package ships Swagger UI 4, which refuses them), mounted as static files under
/docs/assets and versioned by the package's version, so browsers cache them. The page's Content-Security-Policy
lets it load nothing from elsewhere.

ReDoc is not served: its bundle always loads its maker's logo from a CDN, and Swagger UI documents the same API.
"""

from __future__ import annotations

from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS = "/docs/assets"
ASSETS_PACKAGE = "fastapi_offline"
# Swagger UI's page starts it with an inline script and styles some elements inline.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
                           "base-uri 'none'; frame-ancestors 'none'")


def assets_directory() -> Path:
    return Path(str(files(ASSETS_PACKAGE) / "static"))


class ImmutableStaticFiles(StaticFiles):
    """Static files whose URLs carry their version (`?v=…`, changing with the content): browsers may keep those
    for a year. A file asked for without one (a JavaScript module another module imports by its bare path) is
    revalidated on each use instead (ETag), so a new release never runs beside a stale copy of it."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            versioned = b"v=" in scope.get("query_string", b"")
            response.headers["Cache-Control"] = ("public, max-age=31536000, immutable" if versioned
                                                 else "no-cache")
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount_docs(app: FastAPI) -> None:
    """Serves /docs for `app`, which must be created with `docs_url=None, redoc_url=None`."""
    openapi_url = app.openapi_url or "/openapi.json"
    suffix = f"?v={version(ASSETS_PACKAGE)}"
    app.mount(ASSETS, ImmutableStaticFiles(directory=assets_directory()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url, title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js{suffix}",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css{suffix}",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png{suffix}",
            # No "valid" badge fetched from swagger.io's online validator.
            swagger_ui_parameters={"validatorUrl": None, "deepLinking": True, "persistAuthorization": True},
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        page.headers["X-Content-Type-Options"] = "nosniff"
        return page
