"""REST: /api/v1/contacts — create, upsert, read, update, delete, list with filters, tags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from cadenza.api.deps import can_read, can_write, get_container
from cadenza.api.downloads import csv_download
from cadenza.api.problems import problems
from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.contacts.schemas import (
    MAX_ID,
    ContactCreate,
    ContactFilters,
    ContactOut,
    ContactPage,
    ContactUpdate,
    ContactUpsert,
    IsoDateTime,
    TagsIn,
)
from cadenza.core.errors import ValidationFailed
from cadenza.core.pagination import MAX_LIMIT

router = APIRouter()

ATTRIBUTE_PREFIX = "attr."
SearchText = Annotated[str | None, Query(max_length=320, pattern=r"^[^\x00]*$")]
ContactId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_\-]*$")]


def json_page(page: BaseModel) -> Response:
    """Serialises a list page once, in pydantic-core, instead of FastAPI's validate-then-serialise."""
    return Response(page.model_dump_json(), media_type="application/json")


async def attribute_filters(request: Request) -> dict[str, str]:
    """`?attr.plan=pro&attr.seats=10` → {"plan": "pro", "seats": "10"}."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name.startswith(ATTRIBUTE_PREFIX):
            if "\x00" in value or len(value) > 1000:
                raise ValidationFailed(f"{name} is not a valid value.", errors=[{"field": name}])
            found[name[len(ATTRIBUTE_PREFIX):]] = value
    return found


def contact_filters(
    q: SearchText = None,
    email: SearchText = None,
    tag: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    company_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    created_after: IsoDateTime | None = None,
    created_before: IsoDateTime | None = None,
    updated_after: IsoDateTime | None = None,
    attributes: dict[str, str] = Depends(attribute_filters),
) -> ContactFilters:
    """The list's filters from the query string (the contact list and its CSV export share them)."""
    return ContactFilters(q=q, email=email, tag=tag, company_id=company_id, created_after=created_after,
                          created_before=created_before, updated_after=updated_after, attributes=attributes)


@router.get("/contacts", response_model=ContactPage, responses=problems(400),
            summary="List contacts, newest first",
            description="Filters combine with AND. Custom field equality: `attr.<key>=value` (a list field "
                        "matches when it contains the value).")
def list_contacts(
    filters: ContactFilters = Depends(contact_filters),
    limit: Limit = None,
    cursor: Cursor = None,
    principal: Principal = Depends(can_read),
    container: Container = Depends(get_container),
) -> Response:
    page = container.contacts.list_contacts(principal, filters, limit=limit, cursor=cursor or None)
    return json_page(ContactPage.model_construct(data=page.items, next_cursor=page.next_cursor))


@router.get("/contacts/export.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "One row per contact: id, email, "
                                                                          "names, phone, company, external_id, "
                                                                          "tags, timezone, times, custom fields"},
                       **problems(400)},
            summary="Export the contacts matching the list's filters as CSV, newest first",
            description="Streams any number of contacts. The columns map back by themselves in an import. "
                        "Cells a spreadsheet would run as a formula get a leading quote. Recorded in the "
                        "audit log.")
def export_contacts(filters: ContactFilters = Depends(contact_filters), principal: Principal = Depends(can_read),
                    container: Container = Depends(get_container)) -> StreamingResponse:
    lines = container.contacts.export_csv(principal, filters)
    return csv_download(lines, "contacts.csv")


@router.post("/contacts", response_model=ContactOut, status_code=status.HTTP_201_CREATED,
             responses=problems(409), summary="Create a contact")
def create_contact(data: ContactCreate, principal: Principal = Depends(can_write),
                   container: Container = Depends(get_container)) -> ContactOut:
    return container.contacts.create_contact(principal, data)


@router.post("/contacts/upsert", response_model=ContactOut, status_code=status.HTTP_200_OK,
             responses={201: {"description": "Created", "model": ContactOut}, **problems(409)},
             summary="Create or update a contact matched on external_id, else email",
             description="Answers 201 when the contact was created, 200 when an existing one was updated.")
def upsert_contact(data: ContactUpsert, response: Response, principal: Principal = Depends(can_write),
                   container: Container = Depends(get_container)) -> ContactOut:
    contact, created = container.contacts.upsert_contact(principal, data)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return contact


@router.get("/contacts/{contact_id}", response_model=ContactOut, responses=problems(404), summary="Get a contact")
def get_contact(contact_id: ContactId, principal: Principal = Depends(can_read),
                container: Container = Depends(get_container)) -> ContactOut:
    return container.contacts.get_contact(principal, contact_id)


@router.patch("/contacts/{contact_id}", response_model=ContactOut, responses=problems(404, 409),
              summary="Update some of a contact's fields",
              description="Absent keys stay; `null` clears; `attributes` merge key by key and `null` removes a key.")
def update_contact(contact_id: ContactId, data: ContactUpdate, principal: Principal = Depends(can_write),
                   container: Container = Depends(get_container)) -> ContactOut:
    return container.contacts.update_contact(principal, contact_id, data)


@router.delete("/contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=problems(404), summary="Delete a contact (its events stay, unlinked)")
def delete_contact(contact_id: ContactId, principal: Principal = Depends(can_write),
                   container: Container = Depends(get_container)) -> Response:
    container.contacts.delete_contact(principal, contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/contacts/{contact_id}/tags", response_model=ContactOut, responses=problems(404),
             summary="Add tags to a contact")
def add_tags(contact_id: ContactId, data: TagsIn, principal: Principal = Depends(can_write),
             container: Container = Depends(get_container)) -> ContactOut:
    return container.contacts.add_tags(principal, contact_id, data.tags)


@router.delete("/contacts/{contact_id}/tags/{tag}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=problems(404), summary="Remove a tag from a contact")
def remove_tag(contact_id: ContactId, tag: Annotated[str, Path(max_length=200, pattern=r"^[^\x00]*$")],
               principal: Principal = Depends(can_write), container: Container = Depends(get_container)) -> Response:
    container.contacts.remove_tag(principal, contact_id, tag)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
