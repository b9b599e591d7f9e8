"""Identity resolution: which contact a Segment call is about, decided for a whole batch at once.

The rules (DESIGN.md §6):

* a `userId` resolves to the contact with that `external_id` (or a former userId recorded by `alias`);
  an unknown userId creates the contact, with a `user_id` identity;
* an `anonymousId` alone resolves only when it is already linked to a contact: no anonymous contact is
  ever created (an identify that carries a valid email is not anonymous: it resolves by that email);
* a call carrying both links the anonymousId to the userId's contact, and that anonymousId's earlier
  events follow (the caller re-points them: see `stitched`);
* two contacts that are each already identified are never joined here: a call that would join them, or
  an identify whose email another contact owns, records a `DuplicateCandidate(reason="identity_conflict")`
  for a person to review, and the contacts stay as they are.

Use: `load` the batch's identifiers (a few IN queries, contacts locked in id order on PostgreSQL),
resolve each message in order in memory (`contact_for`, `alias`, `apply_traits`, `join_company`), then
`save` writes every change in a handful of statements. Loading and saving are `contacts.identity_store`;
the rules, here, only change drafts in memory. The caller owns the transaction.
"""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any
from urllib.parse import urlsplit

from cadenza.contacts.field_types import coerce
from cadenza.contacts.identity_store import (
    ANONYMOUS_ID,
    USER_ID,
    CompanyDraft,
    ContactDraft,
    IdentityStore,
    contact_in_workspace,
)
from cadenza.contacts.normalize import InvalidValue, clean_email, clean_phone_number

__all__ = ["CompanyDraft", "ContactDraft", "IdentityResolution", "contact_in_workspace", "email_or_none"]

_NAME_LIMIT = 200
_FIRST_NAME_KEYS = ("firstName", "first_name")
_LAST_NAME_KEYS = ("lastName", "last_name")
_STANDARD_TRAITS = frozenset({"email", "phone", "name", "timezone", *_FIRST_NAME_KEYS, *_LAST_NAME_KEYS})
Problem = dict[str, str]


@functools.lru_cache(maxsize=16384)
def email_or_none(raw: str) -> str | None:
    """The normalised address, or None when `raw` is not one. Cached: a batch repeats addresses."""
    try:
        return clean_email(raw)
    except InvalidValue:
        return None


@functools.lru_cache(maxsize=1024)
def _is_timezone(name: str) -> bool:
    if not name or len(name) > 64:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        return False
    return True



class IdentityResolution(IdentityStore):
    """The contacts, identities and companies of one batch, resolved in memory (and loaded and saved by
    `IdentityStore`)."""

    # ---- resolving -------------------------------------------------------------------------

    def contact_for(self, user_id: str | None, anonymous_id: str | None,
                    email: str | None = None) -> ContactDraft | None:
        """The contact a call is about (created when its userId is new), linking its anonymousId to it.

        `email` is a valid, normalised email an identify carries: it finds (or makes) the contact of an
        identify that has no userId, and an unknown userId adopts the contact that owns it when that
        contact has no userId of its own yet.
        """
        contact: ContactDraft | None = None
        if user_id is not None:
            contact = self.by_user.get(user_id) or self._adopt_or_create(user_id, anonymous_id, email)
        elif anonymous_id is not None:
            contact = self.by_anonymous.get(anonymous_id)
            if contact is None and email is not None:
                contact = self.by_email.get(email) or self._create(email=email)
        if contact is not None and anonymous_id is not None:
            self._link_anonymous(anonymous_id, contact)
        return contact

    def alias(self, previous_id: str, user_id: str) -> ContactDraft:
        """`previousId` (an anonymousId or a former userId) is the same person as `userId`."""
        target = self.by_user.get(user_id)
        previous = self.by_user.get(previous_id) or self.by_anonymous.get(previous_id)
        if previous is None:
            target = target or self._adopt_or_create(user_id, None, None)
            self._link_anonymous(previous_id, target)
            self._link_user(previous_id, target)
            return target
        if target is None:
            self._link_user(user_id, previous)
            if previous.external_id is None:
                previous.set("external_id", user_id)
            return previous
        if target is not previous:
            self._conflict(target, previous)
        return target

    def _adopt_or_create(self, user_id: str, anonymous_id: str | None, email: str | None) -> ContactDraft:
        """An unknown userId: the contact its anonymousId or email already found, if that one has no
        userId yet (giving a known contact its userId joins no two contacts), else a new contact."""
        for candidate in (self.by_anonymous.get(anonymous_id) if anonymous_id else None,
                          self.by_email.get(email) if email else None):
            if candidate is not None and candidate.external_id is None:
                candidate.set("external_id", user_id)
                self._link_user(user_id, candidate)
                return candidate
        contact = self._create(external_id=user_id)
        self._link_user(user_id, contact)
        return contact

    def _create(self, *, external_id: str | None = None, email: str | None = None) -> ContactDraft:
        contact = ContactDraft(None, external_id=external_id, email=email, is_new=True)
        contact.changed.update(name for name, value in (("external_id", external_id), ("email", email)) if value)
        if email is not None:
            self.by_email[email] = contact
        self.touch(contact)
        return contact

    def _link_user(self, user_id: str, contact: ContactDraft) -> None:
        self.by_user[user_id] = contact
        self._identities.append((USER_ID, user_id, contact))

    def _link_anonymous(self, anonymous_id: str, contact: ContactDraft) -> None:
        linked = self.by_anonymous.get(anonymous_id)
        if linked is None:
            self.by_anonymous[anonymous_id] = contact
            self._identities.append((ANONYMOUS_ID, anonymous_id, contact))
            self.stitched.append((anonymous_id, contact))
        elif linked is not contact:
            self._conflict(contact, linked)

    def _conflict(self, contact: ContactDraft, other: ContactDraft) -> None:
        self._conflicts.append((contact, other))

    def touch(self, contact: ContactDraft) -> ContactDraft:
        self.touched.setdefault(id(contact), contact)
        return contact

    # ---- traits ----------------------------------------------------------------------------

    def apply_traits(self, contact: ContactDraft, traits: dict[str, Any],
                     timezone: Any = None) -> list[Problem]:
        """Identify traits onto the contact. A value that cannot be stored is skipped and reported."""
        self.touch(contact)
        problems: list[Problem] = []
        for key, value in traits.items():
            if key in _STANDARD_TRAITS or value is None:
                continue
            self._set_attribute(contact, "contact", key, value, problems)
        if isinstance(traits.get("email"), str):
            self._set_email(contact, traits["email"], problems)
        if traits.get("phone") is not None:
            self._set_phone(contact, traits["phone"], problems)
        self._set_names(contact, traits)
        zone = traits.get("timezone") or timezone
        if zone is not None:
            if isinstance(zone, str) and _is_timezone(zone):
                contact.set("timezone", zone)
            else:
                problems.append({"field": "traits.timezone", "message": "is not an IANA time zone like Europe/Paris"})
        return problems

    def _set_email(self, contact: ContactDraft, raw: str, problems: list[Problem]) -> None:
        email = email_or_none(raw)
        if email is None:
            self._set_attribute(contact, "contact", "email", raw, problems)
            problems.append({"field": "traits.email", "message": "is not a valid email address; kept in "
                                                                   "attributes.email"})
            return
        owner = self.by_email.get(email)
        if owner is contact:
            return
        if owner is not None:
            self._conflict(contact, owner)
            return
        if contact.email is not None and self.by_email.get(contact.email) is contact:
            del self.by_email[contact.email]
        self.by_email[email] = contact
        contact.set("email", email)

    def _set_phone(self, contact: ContactDraft, raw: Any, problems: list[Problem]) -> None:
        try:
            contact.set("phone", clean_phone_number(str(raw)))
        except InvalidValue as error:
            self._set_attribute(contact, "contact", "phone", raw, problems)
            problems.append({"field": "traits.phone", "message": f"{error}; kept in attributes.phone"})

    @staticmethod
    def _set_names(contact: ContactDraft, traits: dict[str, Any]) -> None:
        first = next((traits[k] for k in _FIRST_NAME_KEYS if isinstance(traits.get(k), str)), None)
        last = next((traits[k] for k in _LAST_NAME_KEYS if isinstance(traits.get(k), str)), None)
        full = traits.get("name")
        if first is None and last is None and isinstance(full, str) and full.strip():
            first, _, last = full.strip().partition(" ")
        if first is not None and first.strip():
            contact.set("first_name", first.strip()[:_NAME_LIMIT])
        if last is not None and last.strip():
            contact.set("last_name", last.strip()[:_NAME_LIMIT])

    def _set_attribute(self, target: ContactDraft | CompanyDraft, entity: str, key: str, value: Any,
                       problems: list[Problem]) -> None:
        definition = self._fields.get((entity, key))
        if definition is not None:
            try:
                value = coerce(definition[0], value, definition[1] or None)
            except InvalidValue as error:
                problems.append({"field": f"traits.{key}", "message": str(error)})
                return
            if value is None:
                return
        if target.attributes.get(key, _MISSING) != value:
            target.attributes[key] = value
            if isinstance(target, ContactDraft):
                target.changed.add(f"attributes.{key}")
            else:
                target.is_changed = True

    # ---- companies (Segment group) ---------------------------------------------------------

    def join_company(self, contact: ContactDraft | None, group_id: str, traits: dict[str, Any]) -> list[Problem]:
        """Upserts the company `groupId` names, with its traits, and makes it the contact's company."""
        problems: list[Problem] = []
        company = self.companies.get(group_id)
        if company is None:
            name = traits.get("name")
            company = CompanyDraft(None, group_id, name[:255] if isinstance(name, str) and name else group_id[:255],
                                   None, {}, is_new=True)
            self.companies[group_id] = company
        for key, value in traits.items():
            if key == "name":
                if isinstance(value, str) and value.strip() and value.strip()[:255] != company.name:
                    company.name, company.is_changed = value.strip()[:255], True
            elif key in ("domain", "website"):
                domain = _domain(value)
                if domain is None:
                    problems.append({"field": f"traits.{key}", "message": "is not a domain or web address"})
                elif domain != company.domain and (key == "domain" or "domain" not in traits):
                    company.domain, company.is_changed = domain, True
            elif value is not None:
                self._set_attribute(company, "company", key, value, problems)
        if contact is not None:
            self.touch(contact)
            if contact.company is not company and (company.id is None or contact.company_id != company.id):
                contact.company = company
                contact.changed.add("company_id")
        return problems



class _Missing:
    pass


_MISSING = _Missing()



def _domain(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    try:
        host = urlsplit(text if "//" in text else f"//{text}").hostname
    except ValueError:  # e.g. a broken IPv6 literal
        return None
    if not host or "." not in host or len(host) > 255:
        return None
    return host.removeprefix("www.")


