"""The route class of every UI page: errors become friendly pages instead of problem+json."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from cadenza.core.errors import CadenzaError
from cadenza.web.csrf import CsrfRejected, check_same_origin, check_token
from cadenza.web.session import SignInRequired, current_session, login_url
from cadenza.web.templating import render, ui_config

log = logging.getLogger(__name__)

ERROR_TITLES = {
    400: "That request was not complete",
    403: "You can't do that here",
    404: "We couldn't find that",
    409: "That clashes with something else",
    413: "That file is too large",
    422: "Some of that was not valid",
}


def error_page(request: Request, status: int, detail: str, *, title: str | None = None) -> Response:
    return render(request, "error.html", status=status, title=title or ERROR_TITLES.get(status, "Something went wrong"),
                  status_code=status, detail=detail)


class UiRoute(APIRoute):
    """Answers sign-in, CSRF and domain errors the way a person expects: a redirect or an error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def ui_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return RedirectResponse(login_url(request), status_code=303)
            except CsrfRejected as rejected:
                return error_page(request, 403, str(rejected), title="This form could not be accepted")
            except CadenzaError as failure:
                return error_page(request, failure.status, failure.detail)
            except RequestValidationError as invalid:
                fields = ", ".join(str(e.get("loc", ("",))[-1]) for e in invalid.errors()[:5])
                return error_page(request, 400, f"Check these values: {fields}.")
            except Exception:
                log.exception("UI page %s %s failed", request.method, request.url.path)
                return error_page(request, 500, "Something went wrong on our side. It has been logged; try again "
                                  "in a moment.", title="Something went wrong")

        return ui_handler


async def checked_form(request: Request) -> FormData:
    """The POSTed form of a signed-in user, after the same-origin and CSRF token checks."""
    session = current_session(request)
    check_same_origin(request, ui_config(request).base_url)
    form = await request.form()
    check_token(form.get("csrf_token"), session.csrf_token)
    return form
