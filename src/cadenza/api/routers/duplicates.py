"""REST: likely duplicate contacts (/api/v1/duplicates), scans that look for them (/api/v1/duplicates/scans,
run as background jobs) and merging two contacts (/api/v1/contacts/{id}/merge)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cadenza.api.deps import can_read, can_write, get_container
from cadenza.api.problems import problems
from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.contacts.duplicate_scans import ScanInfo
from cadenza.contacts.duplicates import ContactBrief, DuplicatePair
from cadenza.core.pagination import MAX_LIMIT

router = APIRouter()

MAX_ID = 2**63 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_\-]*$")]

MERGE_RULE = (
    "Precedence: the survivor's non-empty values win. The merged contact fills the survivor's empty fields "
    "(email, external_id, phone, first_name, last_name, timezone, company), and its custom fields and "
    "attributes fill the survivor's empty ones key by key; tags are the union of both. Events, identities, "
    "tags and duplicate candidates move to the survivor; the merged contact's former external id keeps "
    "resolving to the survivor. The merged contact is deleted; its values are kept in the merge record "
    "(`merged_snapshot`), and a \"Contact Merged\" event is added to the survivor's timeline."
)


class ContactBriefOut(BaseModel):
    id: int
    email: str | None
    external_id: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    company_id: int | None


class DuplicateOut(BaseModel):
    id: int
    reason: str  # email|phone|name_company|identity_conflict
    score: float
    status: str  # open|dismissed
    created_at: dt.datetime
    contact: ContactBriefOut | None
    other_contact: ContactBriefOut | None


class DuplicatePage(BaseModel):
    data: list[DuplicateOut]
    next_cursor: str | None = None


class DuplicateScanOut(BaseModel):
    id: int
    status: Literal["queued", "running", "done", "failed", "cancelled"] = Field(
        description="queued (also while waiting to retry after a failed attempt: see `error`), running, done, "
                    "failed (after its last attempt), cancelled")
    job_id: int | None = Field(description="The job that runs the scan (see /api/v1/jobs)")
    contacts_done: int = Field(description="Rows read so far over the scan's passes (phone, email, name)")
    contacts_total: int | None = Field(description="Rows the scan reads in all, once it started")
    percent: int
    pairs_found: int = Field(description="New candidate pairs stored so far; listed at /api/v1/duplicates")
    error: str | None
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class DuplicateScanPage(BaseModel):
    data: list[DuplicateScanOut]
    next_cursor: str | None = None


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merge_contact_id: int = Field(ge=1, le=MAX_ID, description="The contact merged into the survivor and deleted")


class MergeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    survivor_id: int
    merged_contact_id: int
    merged_snapshot: dict[str, Any]
    moved: dict[str, Any]
    actor_label: str
    created_at: dt.datetime


def _brief(brief: ContactBrief | None) -> ContactBriefOut | None:
    return ContactBriefOut(**brief.__dict__) if brief is not None else None


def _scan(scan: ScanInfo) -> DuplicateScanOut:
    return DuplicateScanOut(id=scan.id, status=scan.status, job_id=scan.job_id,  # type: ignore[arg-type]
                            contacts_done=scan.contacts_done, contacts_total=scan.contacts_total,
                            percent=scan.percent, pairs_found=scan.pairs_found, error=scan.error,
                            requested_by=scan.requested_by, created_at=scan.created_at, started_at=scan.started_at,
                            finished_at=scan.finished_at)


def _pair(pair: DuplicatePair) -> DuplicateOut:
    return DuplicateOut(id=pair.id, reason=pair.reason, score=pair.score, status=pair.status,
                        created_at=pair.created_at, contact=_brief(pair.contact),
                        other_contact=_brief(pair.other_contact))


@router.get("/duplicates", response_model=DuplicatePage, responses=problems(),
            summary="Likely duplicate pairs, best match first")
def list_duplicates(status: Literal["open", "dismissed"] = "open", limit: Limit = None, cursor: Cursor = None,
                    principal: Principal = Depends(can_read),
                    container: Container = Depends(get_container)) -> DuplicatePage:
    page = container.duplicates.list_candidates(principal, status=status, limit=limit, cursor=cursor)
    return DuplicatePage(data=[_pair(pair) for pair in page.items], next_cursor=page.next_cursor)


@router.post("/duplicates/scans", status_code=202, response_model=DuplicateScanOut, responses=problems(),
             summary="Start a scan for duplicates in the background (or get the one already running)",
             description="Queues a scan of the workspace — same phone, same email but for a +tag, similar name in "
                         "the same company — and answers at once with the scan to poll (`Location`). One scan "
                         "runs per workspace at a time: while one is queued or running, this answers with that "
                         "one. New pairs appear at /api/v1/duplicates.")
def start_scan(response: Response, principal: Principal = Depends(can_write),
               container: Container = Depends(get_container)) -> DuplicateScanOut:
    scan, _started = container.duplicate_scans.start_scan(principal)
    response.headers["Location"] = f"/api/v1/duplicates/scans/{scan.id}"
    return _scan(scan)


@router.get("/duplicates/scans", response_model=DuplicateScanPage, responses=problems(),
            summary="Duplicate scans, newest first")
def list_scans(limit: Limit = None, cursor: Cursor = None, principal: Principal = Depends(can_read),
               container: Container = Depends(get_container)) -> DuplicateScanPage:
    page = container.duplicate_scans.list_scans(principal, limit=limit, cursor=cursor)
    return DuplicateScanPage(data=[_scan(scan) for scan in page.items], next_cursor=page.next_cursor)


@router.get("/duplicates/scans/{scan_id}", response_model=DuplicateScanOut, responses=problems(404),
            summary="One duplicate scan: status, progress, pairs found, error")
def get_scan(scan_id: Id, principal: Principal = Depends(can_read),
             container: Container = Depends(get_container)) -> DuplicateScanOut:
    return _scan(container.duplicate_scans.get_scan(principal, scan_id))


@router.post("/duplicates/scans/{scan_id}/cancel", response_model=DuplicateScanOut, responses=problems(404, 409),
             summary="Cancel a queued or running scan; pairs it already found stay")
def cancel_scan(scan_id: Id, principal: Principal = Depends(can_write),
                container: Container = Depends(get_container)) -> DuplicateScanOut:
    return _scan(container.duplicate_scans.cancel_scan(principal, scan_id))


@router.post("/duplicates/{candidate_id}/dismiss", response_model=DuplicateOut, responses=problems(404, 409),
             summary="Dismiss a pair: they are two people; later scans leave the pair dismissed")
def dismiss_duplicate(candidate_id: Id, principal: Principal = Depends(can_write),
                      container: Container = Depends(get_container)) -> DuplicateOut:
    return _pair(container.duplicates.dismiss_candidate(principal, candidate_id))


@router.post("/contacts/{survivor_id}/merge", response_model=MergeOut, responses=problems(400, 404),
             summary="Merge another contact into this one",
             description=MERGE_RULE + " Merging a contact into itself is a 422; a contact of another workspace "
                                      "is a 404.")
def merge_contacts(survivor_id: Id, body: MergeIn, principal: Principal = Depends(can_write),
                   container: Container = Depends(get_container)) -> MergeOut:
    merge = container.duplicates.merge_contacts(principal, survivor_id, body.merge_contact_id)
    return MergeOut.model_validate(merge)
