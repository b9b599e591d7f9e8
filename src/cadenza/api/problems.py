"""RFC 9457 problem+json for every error the API returns."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from cadenza.core.errors import CadenzaError

PROBLEM = "application/problem+json"
CHALLENGE = 'Basic realm="cadenza", Bearer'  # WWW-Authenticate of every 401


class Problem(BaseModel):
    """An RFC 9457 problem; `errors` lists the fields at fault."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


_DESCRIPTIONS = {400: "Bad request (malformed JSON or multipart data)", 401: "No or an invalid API key",
                 403: "Permission denied", 404: "Not found in this workspace", 409: "Conflict",
                 413: "Payload too large", 422: "Validation failed",
                 429: "Too many attempts: try again after the Retry-After header's seconds"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem+json answers a route may give (auth problems on every route)."""
    schema = Problem.model_json_schema()
    return {code: {"description": _DESCRIPTIONS[code], "content": {PROBLEM: {"schema": schema}}}
            for code in sorted({400, 401, 403, 422, *statuses})}


def problem_response(status: int, title: str, detail: str, *, slug: str, instance: str | None = None,
                     **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": f"https://cadenza.dev/problems/{slug}", "title": title, "status": status,
                            "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers = {"WWW-Authenticate": CHALLENGE} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def problem_headers(error: CadenzaError) -> dict[str, str]:
    """The headers of an error's problem+json answer: its own (e.g. Retry-After) and, on a 401, the challenge."""
    headers = dict(error.headers)
    if error.status == 401:
        headers["WWW-Authenticate"] = CHALLENGE
    return headers


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "")


def register_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(CadenzaError)
    async def _cadenza_error(request: Request, error: CadenzaError) -> JSONResponse:
        return JSONResponse(error.to_problem(request.url.path), status_code=error.status, media_type=PROBLEM,
                            headers=problem_headers(error) or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", ""), "type": e.get("type")}
                  for e in error.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(422, "Validation failed", detail, slug="validation-failed",
                                instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed", 401: "Authentication required"}.get(
            error.status_code, "Error")
        return problem_response(error.status_code, title, str(error.detail), slug=title.lower().replace(" ", "-"),
                                instance=request.url.path)
