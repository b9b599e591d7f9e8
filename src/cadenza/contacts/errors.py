"""Errors of the contacts domain. Each carries its HTTP status and renders as problem+json."""

from __future__ import annotations

from cadenza.auth import Permission, Principal
from cadenza.core.errors import Conflict, NotFound, PermissionDenied


def require(principal: Principal, permission: Permission) -> None:
    """Services check the caller's permission before touching the database."""
    if not principal.can(permission):
        raise PermissionDenied(f"This needs the {permission} permission.")


class ContactNotFound(NotFound):
    title = "Contact not found"
    type_slug = "contact-not-found"


class CompanyNotFound(NotFound):
    title = "Company not found"
    type_slug = "company-not-found"


class FieldNotFound(NotFound):
    title = "Custom field not found"
    type_slug = "field-not-found"


class DuplicateContact(Conflict):
    title = "Contact already exists"
    type_slug = "duplicate-contact"


class DuplicateCompany(Conflict):
    title = "Company already exists"
    type_slug = "duplicate-company"


class DuplicateField(Conflict):
    title = "Custom field already exists"
    type_slug = "duplicate-field"


class FieldTypeChange(Conflict):
    title = "A custom field's type cannot change"
    type_slug = "field-type-change"
