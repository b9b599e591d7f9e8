"""The Segment-compatible ingest API: `POST /v1/identify|track|page|screen|group|alias|batch`.

Segment's and RudderStack's client libraries work unchanged: the ingest key goes as the HTTP Basic
user name with an empty password (`Authorization: Bearer KEY` and a `writeKey` in the body are also
taken), the answer is `200 {"success": true}`. The body is read here as raw bytes (gzip accepted),
limited as Segment limits it (500 KB a batch, 32 KB a message) before it is decoded (`cadenza.events.intake`).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from cadenza.api.deps import credentials_from_header, get_container
from cadenza.api.metrics import Metrics
from cadenza.api.problems import PROBLEM, problem_headers
from cadenza.auth import Permission, Principal
from cadenza.bootstrap import Container
from cadenza.core.errors import CadenzaError, PermissionDenied, Unauthenticated
from cadenza.events.errors import BatchTooLarge, InvalidMessage, MalformedBody, MessageTooLarge
from cadenza.events.intake import read_batch_body, read_single_body
from cadenza.events.schemas import MESSAGE_TYPES, IngestAnswer
from cadenza.events.service import IngestResult

PREFIX = "/v1"  # where the application mounts this router
router = APIRouter()


def call_paths(kind: str | None) -> tuple[str, str]:
    """A call's paths under PREFIX (`kind`; None for a batch): its name, and analytics.js's spelling of it, the
    name's first letter (/t, /p, … and /b for a batch)."""
    name = kind or "batch"
    return f"/{name}", f"/{name[0]}"

_DESCRIPTION = (
    "Segment HTTP Tracking API compatible. Authenticate with an ingest key as the HTTP Basic user name and an "
    "empty password (or `Authorization: Bearer KEY`). `messageId` makes a call idempotent: a repeat is counted "
    "in `duplicates`, not stored twice."
)


def _authenticate(container: Container, key: str | None) -> Principal:
    if not key:
        raise Unauthenticated("Send the ingest key as the HTTP Basic user name (as Segment's libraries do) "
                              "or as a Bearer token.")
    # Known keys cost no read here; IngestService confirms the key in the request's transaction.
    return _may_ingest(container.access.identify_api_key(key))


async def _principal(container: Container, key: str | None) -> Principal:
    """`_authenticate` without leaving the event loop for a key this process knows (the usual case)."""
    known = container.access.known_api_key(key) if key else None
    if known is not None:
        return _may_ingest(known)
    return await run_in_threadpool(_authenticate, container, key)


def _may_ingest(principal: Principal) -> Principal:
    if not principal.can(Permission.INGEST):
        raise PermissionDenied(f"This key cannot ingest events; it needs the {Permission.INGEST} permission.")
    return principal


async def _read_body(headers: Mapping[str, str], chunks: AsyncIterator[bytes], limit: int,
                     too_large: type[BatchTooLarge | MessageTooLarge]) -> bytes:
    """The raw body, refused with 413 as soon as it passes `limit` (before reading, when Content-Length says so)."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(f"The body is {int(declared)} bytes; at most {limit} are accepted.")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large(f"The body is over {limit} bytes; at most {limit} are accepted.")
        parts.append(chunk)
    raw = b"".join(parts)
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "deflate"):
        raw = _inflate(raw, limit, encoding, too_large)
    elif encoding not in ("", "identity"):
        raise MalformedBody(f"Content-Encoding {encoding!r} is not supported; send gzip or none.")
    return raw


def _inflate(raw: bytes, limit: int, encoding: str, too_large: type[BatchTooLarge | MessageTooLarge]) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as error:
        raise MalformedBody(f"The {encoding} body cannot be decompressed: {error}.") from None
    if len(body) > limit:
        raise too_large(f"The decompressed body is over {limit} bytes; at most {limit} are accepted.")
    return body


async def _handle(container: Container, principal: Principal | None, raw: bytes, kind: str | None) -> IngestResult:
    """Parse, authenticate (a `writeKey` in the body when no header named a key), validate, store.

    The body is split into its messages here, on the event loop; the ingest writer validates them while the
    group before commits (`IngestService`). The request waits for its group's commit without holding a
    thread."""
    body = read_batch_body(raw) if kind is None else read_single_body(raw, kind)
    if principal is None:
        principal = await _principal(container, body.write_key)
    result = await container.ingest.ingest_raw_async(principal, body.messages, defaults=body.defaults)
    if result.rejected and len(result.rejected) == len(body.messages):
        if kind is not None:
            errors = result.rejected[0]["errors"]
            detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
            raise InvalidMessage(detail, errors=errors)
        raise InvalidMessage(f"All {len(body.messages)} messages of the batch were refused.", rejected=result.rejected)
    return result


@dataclass(frozen=True, slots=True)
class Answer:
    """What a Segment call is answered: a status, JSON (problem+json for an error), its headers."""

    status: int
    body: bytes
    media_type: str
    headers: dict[str, str]


async def answer(container: Container, metrics: Metrics, kind: str | None, path: str, headers: Mapping[str, str],
                 chunks: AsyncIterator[bytes]) -> Answer:
    """One Segment call (`kind`; None for a batch), from its headers (names in lower case) and its body's chunks.

    Every way a call can go wrong for its sender (no or a bad key, a body too large or malformed, every message
    refused, ingest busy) is answered as problem+json; the counters of stored, duplicate and refused messages
    move. Anything else is a fault of ours and is raised."""
    try:
        result = await _ingest(container, kind, headers, chunks)
    except CadenzaError as error:
        if isinstance(error, InvalidMessage):
            metrics.ingest_rejected.inc(len(error.extra.get("rejected", [])) or 1)
        return Answer(error.status, orjson.dumps(error.to_problem(path)), PROBLEM, {**_CORS, **problem_headers(error)})
    for message_type, count in result.stored.items():
        metrics.ingested.labels(message_type).inc(count)
    if result.duplicates:
        metrics.ingest_duplicates.inc(result.duplicates)
    if result.rejected:
        metrics.ingest_rejected.inc(len(result.rejected))
    body: dict[str, Any] = {"success": True}
    if result.duplicates:
        body["duplicates"] = result.duplicates
    if result.rejected:
        body["rejected"] = result.rejected
    return Answer(200, orjson.dumps(body), "application/json", _CORS)


async def _ingest(container: Container, kind: str | None, headers: Mapping[str, str],
                  chunks: AsyncIterator[bytes]) -> IngestResult:
    settings = container.settings
    key = credentials_from_header(headers.get("authorization"))
    principal = await _principal(container, key) if key else None
    if kind is None:
        raw = await _read_body(headers, chunks, settings.max_batch_bytes, BatchTooLarge)
    else:
        raw = await _read_body(headers, chunks, settings.max_event_bytes, MessageTooLarge)
    return await _handle(container, principal, raw, kind)


# Browsers send from any site with a public write key (analytics.js posts text/plain, RudderStack's SDK
# sends Authorization and so asks first with OPTIONS): the answers say any origin may read them.
_CORS = {"Access-Control-Allow-Origin": "*"}
_PREFLIGHT = {**_CORS, "Access-Control-Allow-Methods": "POST, OPTIONS",
              "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
              "Access-Control-Max-Age": "86400"}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": IngestAnswer, "description": "Stored (valid messages of a batch are kept; `rejected` lists "
                                                "the others)."},
    400: {"description": "Malformed JSON, or every message refused (problem+json naming each field)."},
    401: {"description": "No ingest key, or an unknown or revoked one."},
    403: {"description": "The key may not ingest."},
    413: {"description": "Over 500 KB a batch or 32 KB a message."},
}


def _endpoint(kind: str | None) -> Any:
    async def endpoint(request: Request) -> Response:
        """The route as FastAPI serves it, for an app without `SegmentIngest` in front (see its module)."""
        done = await answer(get_container(request), request.app.state.metrics, kind, request.url.path,
                            request.headers, request.stream())
        return Response(done.body, status_code=done.status, media_type=done.media_type, headers=done.headers)

    endpoint.__name__ = f"ingest_{kind or 'batch'}"
    return endpoint


def preflight() -> Response:
    return Response(status_code=204, headers=_PREFLIGHT)


for _kind in (*MESSAGE_TYPES, None):
    _named, _letter = call_paths(_kind)
    router.add_api_route(_named, _endpoint(_kind), methods=["POST"], responses=_RESPONSES, response_model=None,
                         summary=f"Segment {_kind or 'batch'} call", description=_DESCRIPTION)
    router.add_api_route(_letter, _endpoint(_kind), methods=["POST"], include_in_schema=False)
    for _path in (_named, _letter):
        router.add_api_route(_path, preflight, methods=["OPTIONS"], include_in_schema=False)
