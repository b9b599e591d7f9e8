"""Who is using the UI: the session cookie, resolved to a principal, and where to send strangers."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import Response

from cadenza.api.deps import SESSION_COOKIE, get_container
from cadenza.auth import Permission, Principal, SignedIn
from cadenza.core.errors import PermissionDenied


class SignInRequired(Exception):
    """Raised by UI routes when nobody is signed in; answered with a redirect to /login."""


@dataclass(frozen=True)
class UiSession:
    token: str
    signed_in: SignedIn

    @property
    def principal(self) -> Principal:
        return self.signed_in.principal

    @property
    def csrf_token(self) -> str:
        return self.signed_in.csrf_token

    @property
    def workspace_name(self) -> str:
        return self.signed_in.workspace_name

    @property
    def email(self) -> str:
        return self.principal.label

    @property
    def role(self) -> str:
        return str(self.principal.role or "")

    @property
    def can_write(self) -> bool:
        return self.principal.can(Permission.WRITE)

    @property
    def is_admin(self) -> bool:
        return self.principal.can(Permission.ADMIN)


def current_session(request: Request) -> UiSession:
    """The signed-in user of this request, or SignInRequired."""
    cached = getattr(request.state, "ui_session", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE)
    signed_in = get_container(request).access.resolve_session(token) if token else None
    if token is None or signed_in is None:
        raise SignInRequired()
    session = UiSession(token, signed_in)
    request.state.ui_session = session
    request.state.principal = session.principal
    return session


def writer_session(request: Request) -> UiSession:
    """The signed-in user, who must be allowed to change data: pages that only exist to change it use this."""
    session = current_session(request)
    if not session.can_write:
        raise PermissionDenied(f"Your role ({session.role}) can read but not change data here.")
    return session


def optional_session(request: Request) -> UiSession | None:
    try:
        return current_session(request)
    except SignInRequired:
        return None


def set_session_cookie(response: Response, token: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=secure)


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)


def safe_next(target: str | None, default: str = "/") -> str:
    """`target` when it is a path on this site; otherwise `default`. Stops open redirects."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def login_url(request: Request) -> str:
    """/login?next=<this page> for a GET; plain /login for anything else."""
    if request.method != "GET":
        return "/login"
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if here == "/":
        return "/login"
    return "/login?next=" + quote(here, safe="")
