"""REST: /api/v1/companies — create, upsert, read, update, delete, list, a company's contacts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from cadenza.api.deps import can_read, can_write, get_container
from cadenza.api.routers.contacts import Cursor, Limit, SearchText, json_page, problems
from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.contacts.schemas import (
    MAX_ID,
    CompanyCreate,
    CompanyOut,
    CompanyPage,
    CompanyUpdate,
    CompanyUpsert,
    ContactPage,
)

router = APIRouter()

CompanyId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/companies", response_model=CompanyPage, responses=problems(400), summary="List companies, newest first")
def list_companies(q: SearchText = None, domain: SearchText = None, limit: Limit = None, cursor: Cursor = None,
                   principal: Principal = Depends(can_read),
                   container: Container = Depends(get_container)) -> CompanyPage:
    page = container.companies.list_companies(principal, q=q, domain=domain, limit=limit, cursor=cursor or None)
    return CompanyPage(data=page.items, next_cursor=page.next_cursor)


@router.post("/companies", response_model=CompanyOut, status_code=status.HTTP_201_CREATED, responses=problems(409),
             summary="Create a company")
def create_company(data: CompanyCreate, principal: Principal = Depends(can_write),
                   container: Container = Depends(get_container)) -> CompanyOut:
    return container.companies.create_company(principal, data)


@router.post("/companies/upsert", response_model=CompanyOut, status_code=status.HTTP_200_OK,
             responses={201: {"description": "Created", "model": CompanyOut}, **problems(409)},
             summary="Create or update a company matched on external_id, else domain",
             description="Answers 201 when the company was created, 200 when an existing one was updated.")
def upsert_company(data: CompanyUpsert, response: Response, principal: Principal = Depends(can_write),
                   container: Container = Depends(get_container)) -> CompanyOut:
    company, created = container.companies.upsert_company(principal, data)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return company


@router.get("/companies/{company_id}", response_model=CompanyOut, responses=problems(404), summary="Get a company")
def get_company(company_id: CompanyId, principal: Principal = Depends(can_read),
                container: Container = Depends(get_container)) -> CompanyOut:
    return container.companies.get_company(principal, company_id)


@router.patch("/companies/{company_id}", response_model=CompanyOut, responses=problems(404, 409),
              summary="Update some of a company's fields")
def update_company(company_id: CompanyId, data: CompanyUpdate, principal: Principal = Depends(can_write),
                   container: Container = Depends(get_container)) -> CompanyOut:
    return container.companies.update_company(principal, company_id, data)


@router.delete("/companies/{company_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=problems(404), summary="Delete a company (its contacts stay, unlinked)")
def delete_company(company_id: CompanyId, principal: Principal = Depends(can_write),
                   container: Container = Depends(get_container)) -> Response:
    container.companies.delete_company(principal, company_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/companies/{company_id}/contacts", response_model=ContactPage, responses=problems(400, 404),
            summary="A company's contacts, newest first")
def list_company_contacts(company_id: CompanyId, limit: Annotated[int | None, Query(ge=1, le=500)] = None,
                          cursor: Cursor = None, principal: Principal = Depends(can_read),
                          container: Container = Depends(get_container)) -> Response:
    page = container.companies.list_company_contacts(principal, company_id, limit=limit, cursor=cursor or None)
    return json_page(ContactPage.model_construct(data=page.items, next_cursor=page.next_cursor))
