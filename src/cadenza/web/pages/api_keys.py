"""Settings → API keys: create (the full key is shown once), list by prefix, revoke. Admins only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from cadenza.api.deps import get_container
from cadenza.auth import Scope
from cadenza.core.errors import CadenzaError, NotFound
from cadenza.web.forms import errors_from_failure, text
from cadenza.web.session import UiSession, current_session
from cadenza.web.templating import redirect, render, success
from cadenza.web.ui_route import UiRoute, checked_form

router = APIRouter(route_class=UiRoute, prefix="/settings/api-keys")

SCOPE_HELP = {
    Scope.INGEST: "Send events to /v1 (Segment-compatible). Safe for apps and sites.",
    Scope.READ: "Read contacts, companies, events and imports.",
    Scope.WRITE: "Read and change contacts, run imports, send events.",
    Scope.ADMIN: "Everything, including users and keys.",
}


def _keys_page(request: Request, session: UiSession, *, values: dict[str, Any] | None = None,
               errors: dict[str, str] | None = None, status: int = 200) -> Response:
    keys = get_container(request).access.list_api_keys(session.principal)
    return render(request, "settings/api_keys.html", status=status, section="api-keys", keys=keys,
                  scopes=list(Scope), scope_help=SCOPE_HELP, values=values or {"scope": Scope.INGEST.value},
                  errors=errors or {})


@router.get("", include_in_schema=False)
def list_keys(request: Request, session: UiSession = Depends(current_session)) -> Response:
    return _keys_page(request, session)


@router.post("", include_in_schema=False)
def create_key(request: Request, form: FormData = Depends(checked_form),
               session: UiSession = Depends(current_session)) -> Response:
    values = {"name": text(form, "name"), "scope": text(form, "scope")}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Give the key a name, such as the app that will use it."
    if values["scope"] not in {s.value for s in Scope}:
        errors["scope"] = "Choose one of the listed scopes."
    if errors:
        return _keys_page(request, session, values=values, errors=errors, status=422)
    try:
        key, raw = get_container(request).access.create_api_key(session.principal, values["name"],
                                                                Scope(values["scope"]))
    except CadenzaError as failure:
        if failure.status == 403:
            raise
        return _keys_page(request, session, values=values, errors=errors_from_failure(failure, "name"),
                          status=failure.status)
    # Rendered in answer to the POST, never stored for a later GET: the key exists only in this response.
    return render(request, "settings/api_key_created.html", section="api-keys", key=key, raw_key=raw)


@router.get("/{key_id:int}/revoke", include_in_schema=False)
def confirm_revoke(request: Request, key_id: int, session: UiSession = Depends(current_session)) -> Response:
    keys = get_container(request).access.list_api_keys(session.principal)
    key = next((k for k in keys if k.id == key_id), None)
    if key is None:
        raise NotFound(f"No API key {key_id} in this workspace.")
    return render(request, "settings/api_key_revoke.html", section="api-keys", key=key)


@router.post("/{key_id:int}/revoke", include_in_schema=False)
def revoke_key(request: Request, key_id: int, form: FormData = Depends(checked_form),
               session: UiSession = Depends(current_session)) -> Response:
    key = get_container(request).access.revoke_api_key(session.principal, key_id)
    return redirect(request, "/settings/api-keys",
                    success(f"The key {key.prefix}… ({key.name}) is revoked. Requests using it now fail."))
