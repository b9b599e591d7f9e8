"""Request dependencies: the container, the calling principal, permission checks."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable

from fastapi import Depends, Request

from cadenza.auth import Permission, Principal
from cadenza.auth.errors import CsrfFailed
from cadenza.bootstrap import Container
from cadenza.core.errors import PermissionDenied, Unauthenticated

SESSION_COOKIE = "cadenza_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def credentials_from_header(authorization: str | None) -> str | None:
    """The API key from `Authorization: Bearer KEY` or HTTP Basic with the key as user name."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("The Basic credentials are not valid base64.")
        user, _, _password = decoded.partition(":")
        return user or None
    return None


def get_principal(request: Request) -> Principal:
    """An API key (Bearer or Basic), or else a signed-in browser session."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    container = get_container(request)
    key = credentials_from_header(request.headers.get("authorization"))
    if key:
        principal = container.access.authenticate_api_key(key)
    else:
        token = request.cookies.get(SESSION_COOKIE)
        signed_in = container.access.resolve_session(token) if token else None
        if signed_in is None:
            raise Unauthenticated("Send an API key as a Bearer token or as the HTTP Basic user name.")
        if request.method not in SAFE_METHODS:
            # A browser session may change data through the API only with its CSRF token in a header,
            # which a cross-site form or image cannot send.
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not hmac.compare_digest(sent, signed_in.csrf_token):
                raise CsrfFailed(f"A signed-in browser must send its CSRF token in the {CSRF_HEADER} header.")
        principal = signed_in.principal
    request.state.principal = principal
    return principal


def require(permission: Permission) -> Callable[[Principal], Principal]:
    def check(principal: Principal = Depends(get_principal)) -> Principal:
        if not principal.can(permission):
            raise PermissionDenied(f"This needs the {permission} permission.")
        return principal

    return check


can_ingest = require(Permission.INGEST)
can_read = require(Permission.READ)
can_write = require(Permission.WRITE)
can_admin = require(Permission.ADMIN)
