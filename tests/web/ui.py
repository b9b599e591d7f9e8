"""Helpers for driving the UI with a TestClient: sign in, read the CSRF token, post forms."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import Actor

_HIDDEN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def form_token(html: str) -> str:
    match = _HIDDEN_TOKEN.search(html)
    assert match, "the page has no csrf_token field"
    return match.group(1)


def session_token(client: TestClient) -> str:
    """The signed-in session's CSRF token, read from a page as a browser would."""
    page = client.get("/", follow_redirects=True)
    match = _META_TOKEN.search(page.text)
    assert match, "not signed in"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str) -> Response:
    login_page = client.get("/login")
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": form_token(login_page.text), "next": "/"},
                       follow_redirects=False)


def post_form(client: TestClient, url: str, data: dict[str, str] | None = None) -> Response:
    """POSTs a form with the session's CSRF token, as the page's own form would."""
    return client.post(url, data={"csrf_token": session_token(client), **(data or {})}, follow_redirects=False)


def found(pattern: str, text: str) -> str:
    """The first group of `pattern` in `text`; fails the test when it is not there."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} is not on the page"
    return match.group(1)


def link(html: str, rel: str) -> str:
    """The href of the pager's `rel` (next/prev) link, unescaped."""
    return found(rf'rel="{rel}" href="([^"]+)"', html).replace("&amp;", "&")


SignIn = Callable[[Actor], TestClient]
