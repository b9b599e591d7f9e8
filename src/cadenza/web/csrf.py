"""CSRF defence for every state-changing UI form.

Signed-in forms carry the session's `csrf_token` in a hidden field. The login form has no session
yet, so it uses a double-submit token: a random pre-session cookie, and in the form an HMAC of
that cookie under the server secret (a cookie planted by a sibling subdomain cannot forge it).
Every POST also passes a same-origin check on `Origin` (or, failing that, `Referer`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

LOGIN_CSRF_COOKIE = "cadenza_login_csrf"
FIELD = "csrf_token"


class CsrfRejected(Exception):
    """The request is not provably from our own pages; answered with a 403 page."""


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_same_origin(request: Request, base_url: str) -> None:
    """Refuses a POST whose Origin (or Referer) names another site. Absent both, the token decides."""
    claimed = request.headers.get("origin")
    if claimed is None:
        referer = request.headers.get("referer")
        if referer is None:
            return
        claimed = _origin_of(referer) or "null"
    claimed = claimed.strip().lower()
    host = request.headers.get("host", "")
    allowed = {f"{request.url.scheme}://{host}".lower(), _origin_of(base_url)}
    if claimed not in allowed:
        raise CsrfRejected("This form was sent from another site.")


def tokens_match(submitted: object, expected: str) -> bool:
    if not isinstance(submitted, str) or not submitted or not expected:
        return False
    return hmac.compare_digest(submitted.encode(), expected.encode())


def check_token(submitted: object, expected: str) -> None:
    if not tokens_match(submitted, expected):
        raise CsrfRejected("The form's security token is missing or out of date. Reload the page and try again.")


def new_login_cookie() -> str:
    return secrets.token_urlsafe(32)


def login_form_token(secret: bytes, cookie_value: str) -> str:
    return hmac.new(secret, b"login-csrf:" + cookie_value.encode(), hashlib.sha256).hexdigest()


def check_login_token(secret: bytes, cookie_value: str | None, submitted: object) -> None:
    if not cookie_value:
        raise CsrfRejected("Your browser did not send the sign-in cookie. Enable cookies and reload the page.")
    check_token(submitted, login_form_token(secret, cookie_value))


def set_login_cookie(response: Response, value: str, *, secure: bool) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, value, max_age=2 * 3600, path="/login", httponly=True,
                        samesite="lax", secure=secure)


def clear_login_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login", httponly=True, samesite="lax", secure=secure)
