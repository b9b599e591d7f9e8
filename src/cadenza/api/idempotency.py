"""`Idempotency-Key` on REST POSTs: the first answer is stored; a retry gets the same answer.

A POST under /api/v1 that carries the header reserves the key in the caller's workspace before the route
runs. A retry with the same key and the same request gets the stored status, body and content type back
with `Idempotent-Replayed: true`, and the route does not run again; the same key with a different request
(method, path, query or body) is a 409. Answers of 5xx are not stored. An answer marked
`Cache-Control: no-store` (it holds a secret shown once, like a new API key) is not written down: a
retry gets a 409 saying so.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cadenza.api.deps import SESSION_COOKIE, credentials_from_header
from cadenza.api.problems import PROBLEM
from cadenza.bootstrap import Container
from cadenza.core.errors import CadenzaError, Conflict, ValidationFailed
from cadenza.storage.idempotency import MAX_KEY_LENGTH, StoredResponse, request_fingerprint

HEADER = "idempotency-key"


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, container: Container, prefix: str) -> None:
        self.app = app
        self.container = container
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        workspace_id = await run_in_threadpool(self._workspace_of, scope, headers)
        if workspace_id is None:  # unauthenticated: let the route answer 401
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        fingerprint = request_fingerprint("POST", scope["path"] + "?" + scope.get("query_string", b"").decode(
            "latin-1"), body)
        store = self.container.idempotency
        try:
            if not key.strip() or len(key) > MAX_KEY_LENGTH:
                raise ValidationFailed(f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters.",
                                       errors=[{"field": "Idempotency-Key"}])
            stored = await run_in_threadpool(store.begin, workspace_id, key, fingerprint, self.container.clock.now())
        except CadenzaError as error:
            await _send(send, StoredResponse(error.status, json.dumps(error.to_problem(scope["path"])), PROBLEM))
            return
        if stored is not None:
            await _send(send, stored, replayed=True)
            return

        answer = _Capture(send)
        try:
            await self.app(scope, _replay(body, receive), answer.send)
        finally:
            stored = answer.to_store(scope["path"])
            await run_in_threadpool(store.finish, workspace_id, key, stored.status_code, stored.body,
                                    stored.content_type)

    def _workspace_of(self, scope: Scope, headers: dict[str, str]) -> int | None:
        """The caller's workspace. An API key's principal is kept for the route (`deps.get_principal`), which
        then reads no key row of its own; a session still has its CSRF token checked there."""
        try:
            raw = credentials_from_header(headers.get("authorization"))
            if raw:
                principal = self.container.access.authenticate_api_key(raw)
                scope.setdefault("state", {})["principal"] = principal
                return principal.workspace_id
            cookie = headers.get("cookie", "")
            for part in cookie.split(";"):
                name, _, value = part.strip().partition("=")
                if name == SESSION_COOKIE and value:
                    signed_in = self.container.access.resolve_session(value)
                    return signed_in.principal.workspace_id if signed_in else None
        except CadenzaError:
            return None
        return None


class _Capture:
    """Passes the route's answer on to the client and keeps a copy to store."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500  # the route raised before answering
        self.content_type: str | None = None
        self.no_store = False
        self.chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for name, value in message.get("headers", []):
                name = name.lower()
                if name == b"content-type":
                    self.content_type = value.decode("latin-1")
                elif name == b"cache-control" and b"no-store" in value.lower():
                    self.no_store = True
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
        await self._send(message)

    def to_store(self, path: str) -> StoredResponse:
        if self.no_store and self.status < 500:  # an answer holding a secret (a new API key) is never written down
            problem = Conflict("The first answer to this request held a secret shown once; it is not replayed.")
            return StoredResponse(problem.status, json.dumps(problem.to_problem(path)), PROBLEM)
        return StoredResponse(self.status, b"".join(self.chunks).decode(errors="replace"), self.content_type)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body to the route, then waits for the client as usual."""
    sent = False

    async def replay_receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay_receive


async def _send(send: Send, answer: StoredResponse, *, replayed: bool = False) -> None:
    raw = answer.body.encode()
    media = answer.content_type or (PROBLEM if answer.status_code >= 400 else "application/json")
    headers = [(b"content-type", media.encode("latin-1")), (b"content-length", str(len(raw)).encode())]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": answer.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
