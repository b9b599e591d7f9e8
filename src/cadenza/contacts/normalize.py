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


_INTERNATIONAL_PHONE = re.compile(r"\+[1-9][0-9]*(?:[ -][0-9]+)*", re.ASCII)
_MAX_COUNTRY_CODE_DIGITS = 3
_MIN_NATIONAL_DIGITS, _MAX_NATIONAL_DIGITS = 3, 17  # phonenumbers.parse refuses shorter or longer ones


def fast_phone(value: str) -> str | None:
    """The E.164 form when the fast path can decide the number is valid, else None (ask `normalise_phone`).

    Only for `+` and digits in groups (one space or hyphen between), where the default region plays no part."""
    if len(value) > 40 or not _INTERNATIONAL_PHONE.fullmatch(value):
        return None
    digits = value[1:].replace(" ", "").replace("-", "")
    for length in range(1, _MAX_COUNTRY_CODE_DIGITS + 1):  # as phonenumbers' _extract_country_code
        country_code = int(digits[:length])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[length:]
    if not _MIN_NATIONAL_DIGITS <= len(national) <= _MAX_NATIONAL_DIGITS or national[0] == "0":
        return None  # too short or long, or Italian leading zeros: parse's own rules apply
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, phonenumbers.region_code_for_country_code(country_code))
    if metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and re.match(prefix, national):
        return None  # parse might strip a national prefix here
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national),
                                      country_code_source=phonenumbers.CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN)
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_phone_number(value: str, default_region: str | None = None) -> str:
    """As `normalise_phone`, through the fast path when it can decide (as `clean_email` for addresses)."""
    return fast_phone(value.strip()) or normalise_phone(value, default_region)


def normalise_phone(value: str, default_region: str | None = None) -> str:
    """Any written form → E.164 (`"+44 20 7946 0958"` → `"+442079460958"`), by phonenumbers."""
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
