"""Errors of the ingest API and the event store. Each carries its HTTP status and renders as problem+json."""

from __future__ import annotations

from cadenza.core.errors import CadenzaError, NotFound, PayloadTooLarge


class MalformedBody(CadenzaError):
    """The body is not the JSON the endpoint takes (bad JSON, not an object, no `batch` list)."""

    status = 400
    title = "Malformed request body"
    type_slug = "malformed-body"


class InvalidMessage(CadenzaError):
    """Every message of the request was refused; `errors` (single call) or `rejected` (batch) say why."""

    status = 400
    title = "Invalid message"
    type_slug = "invalid-message"


class IngestBusy(CadenzaError):
    """Concurrent requests kept conflicting with this one (same messageIds, or a deadlock): nothing of it was stored."""

    status = 503
    title = "Busy: send the request again"
    type_slug = "ingest-busy"

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class BatchTooLarge(PayloadTooLarge):
    title = "Batch too large"
    type_slug = "batch-too-large"


class MessageTooLarge(PayloadTooLarge):
    title = "Message too large"
    type_slug = "message-too-large"


class ContactNotInWorkspace(NotFound):
    title = "Contact not found"
    type_slug = "contact-not-found"
