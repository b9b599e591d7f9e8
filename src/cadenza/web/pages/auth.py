"""Signing in and out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cadenza.api.deps import get_container
from cadenza.auth.errors import SignInThrottled
from cadenza.auth.throttle import wait_phrase
from cadenza.core.errors import Unauthenticated
from cadenza.web.csrf import (
    LOGIN_CSRF_COOKIE,
    check_login_token,
    check_same_origin,
    clear_login_cookie,
    login_form_token,
    new_login_cookie,
    set_login_cookie,
)
from cadenza.web.flash import Flash
from cadenza.web.session import clear_session_cookie, current_session, optional_session, safe_next, set_session_cookie
from cadenza.web.templating import redirect, render, ui_config
from cadenza.web.ui_route import UiRoute, checked_form

router = APIRouter(route_class=UiRoute)


def _login_page(request: Request, *, next_url: str, email: str = "", error: str | None = None,
                status: int = 200) -> Response:
    config = ui_config(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_cookie()
    response = render(request, "auth/login.html", status=status, email=email, error=error, next_url=next_url,
                      login_token=login_form_token(config.secret, cookie))
    set_login_cookie(response, cookie, secure=config.secure_cookies)
    return response


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> Response:
    next_url = safe_next(next)
    if optional_session(request) is not None:
        return redirect(request, next_url)
    return _login_page(request, next_url=next_url)


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    config = ui_config(request)
    check_same_origin(request, config.base_url)
    form = await request.form()
    check_login_token(config.secret, request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf_token"))
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or ""))
    if not email or not password:
        return _login_page(request, next_url=next_url, email=email, error="Enter your email and password.",
                           status=400)
    access = get_container(request).access
    client_ip = request.client.host if request.client else None
    try:
        # The password hash is slow on purpose: off the event loop.
        token, _signed_in = await run_in_threadpool(access.sign_in, email, password, client_ip=client_ip)
    except SignInThrottled as error:
        response = _login_page(request, next_url=next_url, email=email, error=error.detail, status=429)
        response.headers.update(error.headers)
        return response
    except Unauthenticated as error:
        message = "That email and password don't match an account."
        retry_after = error.extra.get("retry_after")
        if retry_after:
            message += f" Too many failed attempts: try again {wait_phrase(retry_after)}."
        return _login_page(request, next_url=next_url, email=email, error=message, status=401)
    response = redirect(request, next_url)
    set_session_cookie(response, token, max_age=config.session_max_age, secure=config.secure_cookies)
    clear_login_cookie(response, secure=config.secure_cookies)
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    await checked_form(request)
    session = current_session(request)
    get_container(request).access.sign_out(session.token)
    config = ui_config(request)
    response = redirect(request, "/login", Flash("info", "You are signed out."))
    clear_session_cookie(response, secure=config.secure_cookies)
    return response
