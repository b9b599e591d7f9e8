"""Contacts and companies: custom fields, identity resolution, import, de-duplication and merge."""
