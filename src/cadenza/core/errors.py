"""Errors that carry their HTTP status and render as RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any


class CadenzaError(Exception):
    status: int = 400
    title: str = "Bad request"
    type_slug: str = "bad-request"

    def __init__(self, detail: str = "", *, errors: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []
        self.extra = extra

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries (e.g. Retry-After)."""
        return {}

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://cadenza.dev/problems/{self.type_slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class ValidationFailed(CadenzaError):
    status = 422
    title = "Validation failed"
    type_slug = "validation-failed"


class NotFound(CadenzaError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(CadenzaError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class Unauthenticated(CadenzaError):
    status = 401
    title = "Authentication required"
    type_slug = "unauthenticated"


class PermissionDenied(CadenzaError):
    status = 403
    title = "Permission denied"
    type_slug = "permission-denied"


class PayloadTooLarge(CadenzaError):
    status = 413
    title = "Payload too large"
    type_slug = "payload-too-large"


class DatabaseNotMigrated(CadenzaError):
    status = 503
    title = "Database not migrated"
    type_slug = "database-not-migrated"
