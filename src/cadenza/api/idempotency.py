"""`Idempotency-Key` on REST POSTs: the first answer is stored; a retry gets the same answer."""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cadenza.api.deps import SESSION_COOKIE, credentials_from_header
from cadenza.api.problems import PROBLEM
from cadenza.bootstrap import Container
from cadenza.core.errors import CadenzaError
from cadenza.storage.idempotency import request_fingerprint


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, container: Container, prefix: str) -> None:
        self.app = app
        self.container = container
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        if not key:
            await self.app(scope, receive, send)
            return
        workspace_id = await run_in_threadpool(self._workspace_of, headers)
        if workspace_id is None:  # unauthenticated: let the route answer 401
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        fingerprint = request_fingerprint("POST", scope["path"] + "?" + scope.get("query_string", b"").decode(), body)
        store = self.container.idempotency
        try:
            stored = await run_in_threadpool(store.begin, workspace_id, key[:255], fingerprint,
                                             self.container.clock.now())
        except CadenzaError as error:
            await _send_json(send, error.status, error.to_problem(scope["path"]), PROBLEM)
            return
        if stored is not None:
            await _send_raw(send, stored.status_code, stored.body.encode(), replayed=True)
            return

        sent = False

        async def replay_receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        finally:
            await run_in_threadpool(store.finish, workspace_id, key[:255], status, b"".join(chunks).decode(
                errors="replace"))

    def _workspace_of(self, headers: dict[str, str]) -> int | None:
        try:
            raw = credentials_from_header(headers.get("authorization"))
            if raw:
                return self.container.access.authenticate_api_key(raw).workspace_id
            cookie = headers.get("cookie", "")
            for part in cookie.split(";"):
                name, _, value = part.strip().partition("=")
                if name == SESSION_COOKIE and value:
                    signed_in = self.container.access.resolve_session(value)
                    return signed_in.principal.workspace_id if signed_in else None
        except CadenzaError:
            return None
        return None


async def _send_json(send: Send, status: int, body: dict[str, object], media_type: str) -> None:
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", media_type.encode()), (b"content-length", str(len(raw)).encode())]})
    await send({"type": "http.response.body", "body": raw})


async def _send_raw(send: Send, status: int, raw: bytes, *, replayed: bool) -> None:
    media = PROBLEM if status >= 400 else "application/json"
    headers = [(b"content-type", media.encode()), (b"content-length", str(len(raw)).encode())]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
