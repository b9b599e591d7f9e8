"""Members of the workspace and their roles (admin), and `/me` (anyone signed in)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from cadenza.api.deps import can_admin, get_container, get_principal
from cadenza.api.problems import problems
from cadenza.auth import Principal
from cadenza.auth.schemas import MeOut, UserCreate, UserOut, UserPage, UserUpdate, WorkspaceOut
from cadenza.bootstrap import Container
from cadenza.core.pagination import MAX_LIMIT

router = APIRouter()

Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_\-]*$")]
UserId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/me", responses=problems(), summary="Who is calling: workspace, user or key, role or scope, permissions")
def me(principal: Principal = Depends(get_principal), container: Container = Depends(get_container)) -> MeOut:
    workspace = container.access.get_workspace(principal)
    return MeOut(workspace=WorkspaceOut.model_validate(workspace), kind=principal.kind, id=principal.id,
                 label=principal.label, role=principal.role, scope=principal.scope,
                 permissions=sorted(principal.permissions))


@router.get("/users", responses=problems(), summary="List the workspace's members, oldest first")
def list_users(limit: Limit = None, cursor: Cursor = None, principal: Principal = Depends(can_admin),
               container: Container = Depends(get_container)) -> UserPage:
    page = container.access.list_members_page(principal, limit=limit, cursor=cursor or None)
    locks = container.access.sign_in_locks(principal, [user for user, _role in page.items])
    return UserPage(data=[UserOut.of(user, role, locks) for user, role in page.items], next_cursor=page.next_cursor)


@router.post("/users", status_code=status.HTTP_201_CREATED, responses=problems(409),
             summary="Add a member with a role (no higher than the caller may grant)",
             description="An existing user (by email) joins with their own password; the one given is ignored.")
def create_user(body: UserCreate, principal: Principal = Depends(can_admin),
                container: Container = Depends(get_container)) -> UserOut:
    user = container.access.create_user(principal, body.email, body.password, body.role, body.name)
    return UserOut.of(user, body.role)


@router.get("/users/{user_id}", responses=problems(404), summary="One member")
def get_user(user_id: UserId, principal: Principal = Depends(can_admin),
             container: Container = Depends(get_container)) -> UserOut:
    user, role = container.access.get_member(principal, user_id)
    return UserOut.of(user, role, container.access.sign_in_locks(principal, [user]))


@router.patch("/users/{user_id}", responses=problems(404, 409),
              summary="Change a member's role, name or activity",
              description="A workspace keeps one active owner (409 last-owner). Only an owner touches owners. "
                          "A user who also belongs to another workspace cannot be renamed or deactivated here "
                          "(409): remove them instead.")
def update_user(user_id: UserId, body: UserUpdate, principal: Principal = Depends(can_admin),
                container: Container = Depends(get_container)) -> UserOut:
    user, role = container.access.update_member(principal, user_id, role=body.role, is_active=body.is_active,
                                                name=body.name)
    return UserOut.of(user, role, container.access.sign_in_locks(principal, [user]))


@router.post("/users/{user_id}/unlock", responses=problems(404),
             summary="Let a member sign in again at once, forgetting their failed attempts",
             description="Too many failed sign-ins refuse an account for a while, from one network or from all "
                         "(`sign_in_locked_until`). This forgets them; the password stays. Only an owner "
                         "unlocks an owner.")
def unlock_user(user_id: UserId, principal: Principal = Depends(can_admin),
                container: Container = Depends(get_container)) -> UserOut:
    return UserOut.of(*container.access.unlock_sign_in(principal, user_id))


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=problems(404, 409), summary="Remove a member from the workspace (not the last owner)")
def delete_user(user_id: UserId, principal: Principal = Depends(can_admin),
                container: Container = Depends(get_container)) -> Response:
    container.access.remove_member(principal, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
