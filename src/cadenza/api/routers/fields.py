"""REST: /api/v1/fields — custom field definitions for contacts and companies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from cadenza.api.deps import can_read, can_write, get_container
from cadenza.api.problems import problems
from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.contacts.schemas import MAX_ID, Entity, FieldCreate, FieldList, FieldOut, FieldUpdate

router = APIRouter()

FieldId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/fields", response_model=FieldList, responses=problems(),
            summary="List custom fields of contacts or companies")
def list_fields(entity: Entity = "contact", principal: Principal = Depends(can_read),
                container: Container = Depends(get_container)) -> FieldList:
    return FieldList(data=container.fields.list_fields(principal, entity))


@router.post("/fields", response_model=FieldOut, status_code=status.HTTP_201_CREATED, responses=problems(409),
             summary="Create a custom field")
def create_field(data: FieldCreate, principal: Principal = Depends(can_write),
                 container: Container = Depends(get_container)) -> FieldOut:
    return container.fields.create_field(principal, data)


@router.get("/fields/{field_id}", response_model=FieldOut, responses=problems(404), summary="Get a custom field")
def get_field(field_id: FieldId, principal: Principal = Depends(can_read),
              container: Container = Depends(get_container)) -> FieldOut:
    return container.fields.get_field(principal, field_id)


@router.patch("/fields/{field_id}", response_model=FieldOut, responses=problems(404, 409),
              summary="Change a custom field's label, options or flags (its type cannot change)")
def update_field(field_id: FieldId, data: FieldUpdate, principal: Principal = Depends(can_write),
                 container: Container = Depends(get_container)) -> FieldOut:
    return container.fields.update_field(principal, field_id, data)


@router.delete("/fields/{field_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=problems(404), summary="Delete a custom field (values already stored are kept)")
def delete_field(field_id: FieldId, principal: Principal = Depends(can_write),
                 container: Container = Depends(get_container)) -> Response:
    container.fields.delete_field(principal, field_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
