"""Merging one contact into another, in the caller's unit of work.

Precedence: the survivor's non-empty values win. The merged contact only fills the survivor's empty
fields (email, external id, phone, first and last name, time zone, company), and its custom fields and
attributes fill the survivor's empty ones key by key the same way; tags are the union of both. The merged
contact's events, identities (user_id/anonymous_id rows), tags and open duplicate candidates move to the
survivor; its former external id keeps resolving to the survivor (a user_id identity). The merged contact
is then deleted; its values are kept in the merge record's snapshot. The merge is written as a
`ContactMerge` (what moved, which fields were filled), an audit entry, a 'contact changed' fact for the
survivor, a `contact.merged` fact so other domains move their own rows, and an internal "Contact Merged"
event on the survivor's timeline.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from cadenza.auth import Principal, record_audit
from cadenza.contacts.errors import ContactNotFound
from cadenza.contacts.models import Contact, ContactIdentity, ContactMerge, ContactTag, DuplicateCandidate
from cadenza.contacts.queries import lock_companies
from cadenza.core.errors import ValidationFailed
from cadenza.storage.dialect import insert_ignoring_conflicts
from cadenza.storage.outbox import contact_changed, publish_many

CONTACT_MERGED = "contact.merged"
MERGED_EVENT_NAME = "Contact Merged"
FILLABLE = ("email", "external_id", "phone", "first_name", "last_name", "timezone", "company_id")
_IDENTIFIERS = ("email", "external_id")  # unique per workspace: filled only once the merged contact is gone


class MergeTimeline(Protocol):
    """What a merge needs from the event store (a higher layer, injected at bootstrap)."""

    def move_events(self, session: Session, workspace_id: int, from_contact_id: int, to_contact_id: int) -> int:
        """Re-points the contact's events; returns how many moved."""
        ...

    def append_internal(self, session: Session, workspace_id: int, contact_id: int, *, name: str,
                        message_id: str, user_id: str | None, properties: dict[str, Any],
                        at: dt.datetime) -> None:
        """Adds an internal event to the contact's timeline."""
        ...


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and len(value) == 0)


def merge_contacts(session: Session, principal: Principal, survivor_id: int, merged_id: int, *,
                   timeline: MergeTimeline, now: dt.datetime) -> ContactMerge:
    """Merges `merged_id` into `survivor_id` (see the module docstring for the precedence rule)."""
    if survivor_id == merged_id:
        raise ValidationFailed("A contact cannot be merged into itself.",
                               errors=[{"field": "merge_contact_id", "message": "is the survivor itself"}])
    workspace_id = principal.workspace_id
    survivor, merged = _lock_pair(session, workspace_id, survivor_id, merged_id)
    snapshot = _snapshot(session, merged)
    fills = {name: getattr(merged, name) for name in FILLABLE
             if is_empty(getattr(survivor, name)) and not is_empty(getattr(merged, name))}
    if "company_id" in fills and not lock_companies(session, workspace_id, [fills["company_id"]]):
        del fills["company_id"]  # deleted meanwhile (its delete then unlinks the merged contact, which goes anyway)
    attributes = dict(survivor.attributes or {})
    filled_attributes = [key for key, value in (merged.attributes or {}).items()
                         if is_empty(attributes.get(key)) and not is_empty(value)]
    for key in filled_attributes:
        attributes[key] = merged.attributes[key]
    moved: dict[str, Any] = {
        "events": timeline.move_events(session, workspace_id, merged.id, survivor.id),
        "identities": _move_identities(session, survivor, merged),
        "tags": _move_tags(session, survivor, merged),
        "duplicate_candidates": _move_candidates(session, workspace_id, survivor.id, merged.id),
    }
    if _keep_former_user_id(session, survivor, merged, now):
        moved["former_user_id"] = merged.external_id
    filled = sorted(fills) + [f"attributes.{key}" for key in sorted(filled_attributes)]
    record = ContactMerge(workspace_id=workspace_id, survivor_id=survivor.id, merged_contact_id=merged.id,
                          merged_snapshot=snapshot, moved={**moved, "filled_fields": filled},
                          actor_label=principal.label, created_at=now)
    session.add(record)
    session.execute(delete(Contact).where(Contact.workspace_id == workspace_id, Contact.id == merged.id))
    session.flush()
    session.execute(
        update(Contact).where(Contact.workspace_id == workspace_id, Contact.id == survivor.id)
        .values(**fills, attributes=attributes, updated_at=now,
                last_seen_at=_latest(survivor.last_seen_at, merged.last_seen_at))
        .execution_options(synchronize_session=False)
    )
    timeline.append_internal(
        session, workspace_id, survivor.id, name=MERGED_EVENT_NAME, message_id=f"contact-merged-{record.id}",
        user_id=fills.get("external_id", survivor.external_id), at=now,
        properties={"merged_contact_id": merged.id, "merged_email": merged.email,
                    "merged_external_id": merged.external_id, "filled_fields": filled, "moved": moved},
    )
    record_audit(session, principal, "contact.merged", at=now, target_type="contact", target_id=survivor.id,
                 changes={"merged_contact_id": merged.id, "moved": moved, "filled_fields": filled})
    changed = [*filled, *(["tags"] if moved["tags"] else []), "merged"]
    publish_many(session, [
        contact_changed(workspace_id, survivor.id, fields=changed, events=[MERGED_EVENT_NAME], reason="merge"),
        {"workspace_id": workspace_id, "topic": CONTACT_MERGED,
         "payload": {"survivor_id": survivor.id, "merged_contact_id": merged.id}},
    ], now=now)
    return record


def _lock_pair(session: Session, workspace_id: int, survivor_id: int, merged_id: int) -> tuple[Contact, Contact]:
    query = (select(Contact).where(Contact.workspace_id == workspace_id, Contact.id.in_([survivor_id, merged_id]))
             .order_by(Contact.id).with_for_update())
    found = {contact.id: contact for contact in session.scalars(query)}
    for contact_id in (survivor_id, merged_id):
        if contact_id not in found:
            raise ContactNotFound(f"No contact {contact_id} in this workspace.")
    return found[survivor_id], found[merged_id]


def _snapshot(session: Session, merged: Contact) -> dict[str, Any]:
    tags = session.scalars(select(ContactTag.tag).where(ContactTag.workspace_id == merged.workspace_id,
                                                        ContactTag.contact_id == merged.id).order_by(ContactTag.tag))
    return {
        **{name: getattr(merged, name) for name in FILLABLE},
        "attributes": dict(merged.attributes or {}),
        "tags": list(tags),
        "created_at": merged.created_at.isoformat(),
        "last_seen_at": merged.last_seen_at.isoformat() if merged.last_seen_at else None,
    }


def _move_identities(session: Session, survivor: Contact, merged: Contact) -> int:
    moved = session.execute(
        update(ContactIdentity).where(ContactIdentity.workspace_id == survivor.workspace_id,
                                      ContactIdentity.contact_id == merged.id)
        .values(contact_id=survivor.id).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return int(moved or 0)


def _keep_former_user_id(session: Session, survivor: Contact, merged: Contact, now: dt.datetime) -> bool:
    """When both had an external id, the merged one keeps resolving to the survivor (as after an `alias`)."""
    if not (merged.external_id and survivor.external_id and merged.external_id != survivor.external_id):
        return False
    statement = insert_ignoring_conflicts(session, ContactIdentity.__table__,  # type: ignore[arg-type]
                                          ["workspace_id", "kind", "value"])
    session.execute(statement.values(workspace_id=survivor.workspace_id, kind="user_id", value=merged.external_id,
                                     contact_id=survivor.id, created_at=now))
    return True


def _move_tags(session: Session, survivor: Contact, merged: Contact) -> int:
    workspace_id = survivor.workspace_id
    theirs = list(session.scalars(select(ContactTag.tag).where(ContactTag.workspace_id == workspace_id,
                                                               ContactTag.contact_id == merged.id)))
    ours = set(session.scalars(select(ContactTag.tag).where(ContactTag.workspace_id == workspace_id,
                                                            ContactTag.contact_id == survivor.id)))
    new = sorted(set(theirs) - ours)
    if new:
        session.execute(insert_ignoring_conflicts(session, ContactTag.__table__,  # type: ignore[arg-type]
                                                  ["workspace_id", "contact_id", "tag"]),
                        [{"workspace_id": workspace_id, "contact_id": survivor.id, "tag": tag} for tag in new])
    session.execute(delete(ContactTag).where(ContactTag.workspace_id == workspace_id,
                                             ContactTag.contact_id == merged.id))
    return len(new)


def _move_candidates(session: Session, workspace_id: int, survivor_id: int, merged_id: int) -> int:
    """Re-points the merged contact's duplicate candidates at the survivor. The pair being merged, and
    pairs the survivor already has, are removed."""
    candidates = list(session.scalars(select(DuplicateCandidate).where(
        DuplicateCandidate.workspace_id == workspace_id,
        or_(DuplicateCandidate.contact_id.in_([survivor_id, merged_id]),
            DuplicateCandidate.other_contact_id.in_([survivor_id, merged_id])))))
    mine = {frozenset((c.contact_id, c.other_contact_id)) for c in candidates
            if merged_id not in (c.contact_id, c.other_contact_id)}
    moved = 0
    for candidate in candidates:
        pair = {candidate.contact_id, candidate.other_contact_id}
        if merged_id not in pair:
            continue
        other = (pair - {merged_id}).pop()
        if other == survivor_id or frozenset((survivor_id, other)) in mine:
            session.delete(candidate)
            continue
        candidate.contact_id, candidate.other_contact_id = min(survivor_id, other), max(survivor_id, other)
        mine.add(frozenset((survivor_id, other)))
        moved += 1
    session.flush()
    return moved


def _latest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)
