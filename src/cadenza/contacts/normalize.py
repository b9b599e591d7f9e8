"""Normalising and validating contact data. Pure: no I/O (email-validator runs without DNS here)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

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
    if not phonenumbers.is_possible_number(number) or not is_valid_national_number(country_code, national):
        return None
    return f"+{country_code}{national}"  # E.164: no leading zeros to keep, the national number as written


# phonenumbers' own validity check (`is_valid_number`) matches the number against each type's pattern, through
# a regular expression cache and several calls per type, and for a calling code shared by several regions
# twice over (once to find the region, once to validate for it): about 20 µs a number, most of an import
# worker's time on a file with phone numbers. `is_valid_national_number` makes the same decision from the
# same metadata, compiled once per calling code (tests compare the two on every region's example numbers and
# their neighbours).

_NUMBER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
                 "voicemail", "fixed_line", "mobile")


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A number description: the lengths it allows (none listed: any) and its pattern."""

    lengths: frozenset[int]
    pattern: str

    @classmethod
    def of(cls, desc: phonenumbers.PhoneNumberDesc | None) -> _Pattern | None:
        if desc is None or not desc.national_number_pattern:
            return None  # matches nothing, as phonenumbers' _match_national_number
        return cls(frozenset(desc.possible_length), desc.national_number_pattern)

    def allows(self, length: int) -> bool:
        return not self.lengths or length in self.lengths


def _any_of(patterns: list[_Pattern]) -> re.Pattern[str] | None:
    """One expression that matches what any of the patterns matches (None: there is none)."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns)) if patterns else None


_Checks = tuple[re.Pattern[str] | None, re.Pattern[str] | None]  # the general description's, the types'


@dataclass(frozen=True, slots=True)
class _RegionRules:
    """phonenumbers' `_number_type_helper(...) != UNKNOWN` for one region: the general description matches and
    so does one of the types, each only at its own lengths. Compiled per length: the two expressions to match."""

    leading_digits: re.Pattern[str] | None
    by_length: dict[int, _Checks]
    at_other_lengths: _Checks

    @classmethod
    def of(cls, metadata: phonenumbers.PhoneMetadata) -> _RegionRules:
        general = _Pattern.of(metadata.general_desc)
        types = [t for t in (_Pattern.of(getattr(metadata, name)) for name in _NUMBER_TYPES) if t is not None]

        def checks(length: int | None) -> _Checks:  # None: a length no description lists
            applies = (lambda t: not t.lengths) if length is None else (lambda t: t.allows(length))
            if general is None or not applies(general):
                return None, None
            return _any_of([general]), _any_of([t for t in types if applies(t)])

        lengths = {length for t in (general, *types) if t is not None for length in t.lengths}
        return cls(re.compile(metadata.leading_digits) if metadata.leading_digits is not None else None,
                   {length: checks(length) for length in lengths}, checks(None))

    def has_type(self, digits: str) -> bool:
        general, types = self.by_length.get(len(digits), self.at_other_lengths)
        return (general is not None and types is not None and general.fullmatch(digits) is not None
                and types.fullmatch(digits) is not None)


@functools.cache
def _calling_code_rules(country_code: int) -> tuple[_RegionRules, ...]:
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    # A region of a calling code always has that code: is_valid_number_for_region's check of it never fails here.
    metadata = (phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
                for region in regions)
    return tuple(_RegionRules.of(data) for data in metadata if data is not None)


def is_valid_national_number(country_code: int, national: str) -> bool:
    """`phonenumbers.is_valid_number` for +country_code national, where national has no leading zero."""
    regions = _calling_code_rules(country_code)
    if len(regions) == 1:
        return regions[0].has_type(national)
    for region in regions:  # as phonenumbers' _region_code_for_number_from_list: the first region claiming it
        if region.leading_digits is not None:
            if region.leading_digits.match(national):
                return region.has_type(national)
        elif region.has_type(national):
            return True
    return False


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
