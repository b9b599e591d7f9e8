"""Settings → Users: who is in the workspace, with which role. Admins only (the service checks)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from cadenza.api.deps import get_container
from cadenza.auth import Role
from cadenza.auth.models import User
from cadenza.core.errors import CadenzaError
from cadenza.web.forms import errors_from_failure, text
from cadenza.web.session import UiSession, current_session
from cadenza.web.templating import error, redirect, render, success
from cadenza.web.ui_route import UiRoute, checked_form

router = APIRouter(route_class=UiRoute, prefix="/settings/users")

ROLE_HELP = {
    Role.OWNER: "Everything, including making other owners.",
    Role.ADMIN: "Everything except managing owners.",
    Role.MARKETER: "Contacts, imports, segments and journeys. No settings.",
    Role.ANALYST: "Read-only access to contacts and reports.",
}


def _users_page(request: Request, session: UiSession, *, values: dict[str, Any] | None = None,
                errors: dict[str, str] | None = None, status: int = 200) -> Response:
    access = get_container(request).access
    members = access.list_members(session.principal)
    locks = access.sign_in_locks(session.principal, [user for user, _role in members])
    return render(request, "settings/users.html", status=status, section="users", members=members, locks=locks,
                  roles=list(Role), role_help=ROLE_HELP, values=values or {"role": Role.MARKETER.value},
                  errors=errors or {})


@router.get("", include_in_schema=False)
def list_users(request: Request, session: UiSession = Depends(current_session)) -> Response:
    return _users_page(request, session)


@router.post("", include_in_schema=False)
def create_user(request: Request, form: FormData = Depends(checked_form),
                session: UiSession = Depends(current_session)) -> Response:
    values = {"email": text(form, "email"), "name": text(form, "name"), "role": text(form, "role")}
    generated = not text(form, "password")
    password = secrets.token_urlsafe(12) if generated else str(form.get("password"))
    errors = {}
    if values["role"] not in {role.value for role in Role}:
        errors["role"] = "Choose one of the listed roles."
    if len(values["name"]) > 200:
        errors["name"] = "A name has at most 200 characters."
    if errors:
        return _users_page(request, session, values=values, errors=errors, status=422)
    role = Role(values["role"])
    try:
        user = get_container(request).access.create_user(session.principal, values["email"], password, role,
                                                          values["name"])
    except CadenzaError as failure:
        if failure.status == 403:
            raise
        return _users_page(request, session, values=values, errors=errors_from_failure(failure, "email"),
                           status=failure.status)
    if generated:
        return render(request, "settings/user_created.html", section="users", user=user, role=role,
                      password=password)
    return redirect(request, "/settings/users", success(f"{user.email} can now sign in as {role}."))


def _change_member(request: Request, session: UiSession, user_id: int, describe: str, **changes: Any) -> Response:
    """One membership change, then back to the list with what happened (or why it could not)."""
    access = get_container(request).access
    return _member_outcome(request, session, lambda: access.update_member(session.principal, user_id, **changes),
                           describe)


def _member_outcome(request: Request, session: UiSession, action: Callable[[], tuple[User, Role]],
                    describe: str) -> Response:
    """Back to the list saying what `action` did to a member (`describe` names {email} and {role}), or why
    it could not; an unknown member or a non-admin gets the error page."""
    try:
        user, role = action()
    except CadenzaError as failure:
        if failure.status == 404 or not session.is_admin:
            raise
        return redirect(request, "/settings/users", error(failure.detail))
    return redirect(request, "/settings/users", success(describe.format(email=user.email, role=role)))


@router.post("/{user_id:int}/role", include_in_schema=False)
def change_role(request: Request, user_id: int, form: FormData = Depends(checked_form),
                session: UiSession = Depends(current_session)) -> Response:
    try:
        role = Role(text(form, "role"))
    except ValueError:
        return redirect(request, "/settings/users", error("Choose one of the listed roles."))
    return _change_member(request, session, user_id, "{email} is now {role}.", role=role)


@router.post("/{user_id:int}/deactivate", include_in_schema=False)
def deactivate(request: Request, user_id: int, form: FormData = Depends(checked_form),
               session: UiSession = Depends(current_session)) -> Response:
    if user_id == session.principal.id:
        return redirect(request, "/settings/users", error("You can't deactivate yourself; ask another admin."))
    return _change_member(request, session, user_id, "{email} is deactivated and signed out.", is_active=False)


@router.post("/{user_id:int}/activate", include_in_schema=False)
def activate(request: Request, user_id: int, form: FormData = Depends(checked_form),
             session: UiSession = Depends(current_session)) -> Response:
    return _change_member(request, session, user_id, "{email} can sign in again.", is_active=True)


@router.post("/{user_id:int}/unlock", include_in_schema=False)
def unlock(request: Request, user_id: int, form: FormData = Depends(checked_form),
           session: UiSession = Depends(current_session)) -> Response:
    access = get_container(request).access
    return _member_outcome(request, session, lambda: access.unlock_sign_in(session.principal, user_id),
                           "{email} can sign in again now.")
