"""API keys: created with a scope, shown once, stored as a digest, revoked at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from cadenza.api.deps import can_admin, get_container
from cadenza.api.problems import problems
from cadenza.api.routers.users import Cursor, Limit
from cadenza.auth import Principal
from cadenza.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ApiKeyPage
from cadenza.bootstrap import Container

router = APIRouter()

KeyId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/api-keys", responses=problems(), summary="List API keys, newest first (revoked ones too)")
def list_api_keys(limit: Limit = None, cursor: Cursor = None, principal: Principal = Depends(can_admin),
                  container: Container = Depends(get_container)) -> ApiKeyPage:
    page = container.access.list_api_keys_page(principal, limit=limit, cursor=cursor or None)
    return ApiKeyPage(data=[ApiKeyOut.model_validate(key) for key in page.items], next_cursor=page.next_cursor)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, responses=problems(409),
             summary="Create an API key; the answer holds the full key, shown this once",
             description="Scopes: ingest (/v1 only), read, write, admin. Only the key's SHA-256 digest is kept. "
                         "A retry with the same Idempotency-Key gets 409, never the key again.")
def create_api_key(body: ApiKeyCreate, response: Response, principal: Principal = Depends(can_admin),
                   container: Container = Depends(get_container)) -> ApiKeyCreated:
    key, raw = container.access.create_api_key(principal, body.name, body.scope)
    # The secret must sit in no cache, nor be kept for an Idempotency-Key replay.
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": raw})


@router.delete("/api-keys/{key_id}", responses=problems(404), summary="Revoke an API key: it stops working at once")
def revoke_api_key(key_id: KeyId, principal: Principal = Depends(can_admin),
                   container: Container = Depends(get_container)) -> ApiKeyOut:
    return ApiKeyOut.model_validate(container.access.revoke_api_key(principal, key_id))
