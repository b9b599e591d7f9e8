"""Normalising and validating contact data. Pure: no I/O (email-validator runs without DNS here)."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from cadenza.core.errors import ValidationFailed


class InvalidValue(ValueError):
    """A value that cannot be normalised; the message says why, in a user's words."""


MAX_EMAIL = 254
MAX_DOMAIN = 253

# Labels of at most 63 characters, not starting or ending with "-"; a top-level name of letters.
_FAST_EMAIL = re.compile(
    r"[a-z0-9_+\-]+(?:\.[a-z0-9_+\-]+)*@((?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+([a-z]{1,63}))", re.ASCII)
# email-validator refuses these top-level names (special-use domains, RFC 6761 and friends).
_RESERVED_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def fast_email(value: str) -> str | None:
    """The normalised address when the fast path can decide it is valid, else None (ask email-validator)."""
    if not value.isascii():
        return None
    candidate = value.lower()
    match = _FAST_EMAIL.fullmatch(candidate)
    if match is None or len(candidate) > MAX_EMAIL:
        return None
    domain, top = match.groups()
    if len(domain) > MAX_DOMAIN or "--" in domain or top in _RESERVED_TLDS:  # "xn--", "ab--": IDNA rules
        return None
    return candidate


def clean_email(value: str) -> str:
    """As `normalise_email`, faster for common addresses. Raises InvalidValue."""
    return fast_email(value.strip()) or normalise_email(value)


def normalise_email(value: str) -> str:
    """`"  Ada@Example.COM "` → `"ada@example.com"`. Raises InvalidValue when it is not an address."""
    candidate = value.strip()
    if not candidate:
        raise InvalidValue("is empty")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidValue(str(error)) from None
    return result.normalized.lower()


def normalise_phone(value: str, default_region: str | None = None) -> str:
    """Any written form → E.164 (`"+44 20 7946 0958"` → `"+442079460958"`)."""
    candidate = value.strip()
    if not candidate:
        raise InvalidValue("is empty")
    try:
        number = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidValue(f"is not a phone number ({error})") from None
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise InvalidValue("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_or_error(value: str, field: str = "email") -> str:
    """As normalise_email, raising the API's 422 error naming the field."""
    try:
        return normalise_email(value)
    except InvalidValue as error:
        raise ValidationFailed(f"{field} {error}", errors=[{"field": field, "message": str(error)}]) from None


def phone_or_error(value: str, field: str = "phone", default_region: str | None = None) -> str:
    try:
        return normalise_phone(value, default_region)
    except InvalidValue as error:
        raise ValidationFailed(f"{field} {error}", errors=[{"field": field, "message": str(error)}]) from None
