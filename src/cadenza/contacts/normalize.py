"""Normalising and validating contact data. Pure: no I/O (email-validator runs without DNS here)."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from cadenza.core.errors import ValidationFailed


class InvalidValue(ValueError):
    """A value that cannot be normalised; the message says why, in a user's words."""


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
