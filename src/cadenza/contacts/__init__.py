"""Contacts and companies: custom fields, identity resolution, import, de-duplication and merge."""

from cadenza.contacts.identity import ContactDraft, IdentityResolution, contact_in_workspace, email_or_none

__all__ = ["ContactDraft", "IdentityResolution", "contact_in_workspace", "email_or_none"]
