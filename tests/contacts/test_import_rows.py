"""Validating one CSV row, and the fast email path that must agree with email-validator. Pure."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.contacts.csv_source import SourceRow
from cadenza.contacts.import_rows import (
    ContactRow,
    RowProblem,
    RowReader,
    clean_phone,
)
from cadenza.contacts.mapping import FieldChoice
from cadenza.contacts.normalize import (
    InvalidValue,
    clean_email,
    clean_phone_number,
    fast_email,
    fast_phone,
    is_valid_national_number,
    normalise_email,
    normalise_phone,
)

FIELDS = {"plan": FieldChoice("plan", "Plan", "enum", ("free", "pro")),
          "seats": FieldChoice("seats", "Seats", "number"),
          "renews": FieldChoice("renews", "Renews", "date")}
HEADERS = ["Email", "First", "Phone", "Plan", "Seats", "Renews", "Tags", "TZ", "Notes"]
MAPPING = {"Email": "email", "First": "first_name", "Phone": "phone", "Plan": "field:plan", "Seats": "field:seats",
           "Renews": "field:renews", "Tags": "tags", "TZ": "timezone", "Notes": "attributes.notes"}


def read(*values: str, line: int = 7, region: str | None = None) -> ContactRow | list[RowProblem]:
    reader = RowReader(HEADERS, MAPPING, FIELDS, default_region=region)
    return reader.read(SourceRow(line, list(values), line, 0, ",".join(values)))


def test_a_good_row_is_normalised_and_coerced() -> None:
    row = read(" Ada@Example.COM ", "Ada", "020 7946 0958", "pro", "12", "31/01/2027", "vip; beta ,vip",
               "Europe/London", "likes tea", region="GB")

    raw = " Ada@Example.COM ,Ada,020 7946 0958,pro,12,31/01/2027,vip; beta ,vip,Europe/London,likes tea"
    assert row == ContactRow(7, raw, email="ada@example.com",
                             phone="+442079460958", first_name="Ada", timezone="Europe/London", tags=["vip", "beta"],
                             attributes={"plan": "pro", "seats": 12, "renews": "2027-01-31", "notes": "likes tea"})


def test_empty_cells_are_left_out() -> None:
    row = read("ada@example.com", "", "", "", "", "", "", "", "")

    assert row == ContactRow(7, "ada@example.com,,,,,,,,", email="ada@example.com")


def test_every_bad_cell_of_a_row_is_reported_with_its_line_and_column() -> None:
    problems = read("not-an-email", "Ada", "12", "gold", "many", "2027-13-01", "", "Mars/Olympus", "")

    assert isinstance(problems, list)
    assert [(p.line, p.column, p.message) for p in problems] == [
        (7, "Email", "email An email address must have an @-sign."),
        (7, "Phone", "phone is not a phone number ((0) Missing or invalid default region.)"),
        (7, "Plan", "plan must be one of free, pro"),
        (7, "Seats", "seats must be a number, got 'many'"),
        (7, "Renews", "renews must be a date like 2026-01-31, got '2027-13-01'"),
        (7, "TZ", "timezone is not an IANA time zone like Europe/Paris"),
    ]
    assert problems[0].raw == "not-an-email,Ada,12,gold,many,2027-13-01,,Mars/Olympus,"


def test_a_row_needs_an_email_an_external_id_or_a_phone() -> None:
    problems = read("", "Ada", "", "pro", "", "", "", "", "")

    assert problems == [RowProblem(7, None, "needs an email, an external id or a phone number", ",Ada,,pro,,,,,")]


def test_a_row_with_more_cells_than_the_header_is_refused() -> None:
    problems = read("a@example.com", "Ada", "", "", "", "", "", "", "", "extra")

    assert isinstance(problems, list)
    assert [p.message for p in problems] == ["has 10 cells but the header has 9"]


def test_an_unreadable_row_is_reported_as_read() -> None:
    reader = RowReader(HEADERS, MAPPING, FIELDS)

    problems = reader.read(SourceRow(4, [], 4, 0, "M\ufffdller", error="has bytes that are not valid utf-8"))

    assert problems == [RowProblem(4, None, "has bytes that are not valid utf-8", "M\ufffdller")]


# ---- the fast email path ------------------------------------------------------------------------

AGREE = [
    "ada@example.com", "Ada.Lovelace@Example.COM", "a+news@example.co.uk", "first_last-1@sub.example.org",
    "x@a.io", "1@2.ab", "a@b-c.de",
]
SLOW_PATH = [  # left to email-validator, which decides
    "ada@example.test", "ada@localhost", "ada@example", "ada@example.123", "ada@xn--bcher-kva.example",
    "ada@ab--cd.example", "a..b@example.com", ".a@example.com", "a.@example.com", "a@-example.com",
    "a@example-.com", "Ada <ada@example.com>", "\"quoted\"@example.com", "ada@[127.0.0.1]", "josé@example.com",
    "ada@exämple.com", "a@" + "b" * 64 + ".com", "a" * 250 + "@example.com", "a!b@example.com", "",
    "a@b", "@example.com", "a@example.com.", "\u212aate@example.com",
]


@pytest.mark.parametrize("address", AGREE)
def test_the_fast_path_accepts_common_addresses_exactly_as_email_validator(address: str) -> None:
    assert fast_email(address) == normalise_email(address)


@pytest.mark.parametrize("address", SLOW_PATH, ids=range(len(SLOW_PATH)))
def test_the_fast_path_leaves_unusual_addresses_to_email_validator(address: str) -> None:
    assert fast_email(address) is None
    assert _outcome(clean_email, address) == _outcome(normalise_email, address)


def _outcome(check, address: str) -> str:  # type: ignore[no-untyped-def]
    try:
        return f"ok {check(address)}"
    except InvalidValue as error:
        return f"refused {error}"


_local = st.text(alphabet="abcXYZ019._+-!#'", min_size=0, max_size=12)
_domain = st.text(alphabet="abcXY09.-_", min_size=0, max_size=20)
_tld = st.sampled_from(["com", "io", "test", "local", "c0m", "x", "COM", "", "arpa", "onion", "a1"])


def _agrees(local: str, domain: str, tld: str) -> None:
    address = f"{local}@{domain}.{tld}" if tld else f"{local}@{domain}"
    fast = fast_email(address)
    if fast is not None:
        assert fast == normalise_email(address)
    assert _outcome(clean_email, address) == _outcome(normalise_email, address)


@settings(max_examples=300, deadline=None, database=None)
@given(local=_local, domain=_domain, tld=_tld)
def test_the_fast_path_never_disagrees_with_email_validator(local: str, domain: str, tld: str) -> None:
    _agrees(local, domain, tld)


@pytest.mark.slow
@settings(max_examples=8_000, deadline=None, database=None)
@given(local=_local, domain=_domain, tld=_tld)
def test_the_fast_path_never_disagrees_with_email_validator_on_many_inputs(local: str, domain: str,
                                                                           tld: str) -> None:
    _agrees(local, domain, tld)


# ---- the fast phone path ------------------------------------------------------------------------

def _example_numbers() -> list[str]:
    """A valid number of every type for every region phonenumbers knows, written in international form."""
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE,
                     phonenumbers.PhoneNumberType.TOLL_FREE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
    return numbers


EXAMPLES = _example_numbers()
FAST_PHONES = ["+44 7400 123456", "+1 415 555 0100", "+1 415-555-0100", "+49 1512 3456789", "+33 6 12 34 56 78",
               "+447400123456"]
SLOW_PHONES = [  # left to phonenumbers, which decides
    "020 7946 0958", "+44 (0)20 7946 0958", "+44 20 7946--0958", "+44  20 7946 0958", "+44 20 7946 0958-",
    "+39 06 6982 1234",
    "+44 020 7946 0958", "+1 1415 555 0100", "+999 1234 5678", "+44 12", "+44 7400 123456 ext. 12", "+",
    "0044 7400 123456", "+44 7400 12345", "++44 7400 123456", "+44 7400 123456 ", "+\uff14\uff14 7400 123456",
]


def _phone_outcome(check, value: str, region: str | None) -> str:  # type: ignore[no-untyped-def]
    try:
        return f"ok {check(value, region)}"
    except InvalidValue as error:
        return f"refused {error}"


@pytest.mark.parametrize("number", FAST_PHONES)
def test_the_fast_phone_path_takes_international_numbers_exactly_as_phonenumbers(number: str) -> None:
    assert fast_phone(number) == normalise_phone(number)


def test_the_fast_phone_path_takes_most_valid_numbers_of_every_region_as_phonenumbers() -> None:
    taken = [(number, fast_phone(number)) for number in EXAMPLES]

    assert all(fast is None or fast == normalise_phone(number) for number, fast in taken)
    assert sum(fast is not None for _number, fast in taken) > 0.9 * len(EXAMPLES)  # 96% with phonenumbers 9.0.43


@pytest.mark.parametrize("number", SLOW_PHONES, ids=range(len(SLOW_PHONES)))
def test_the_fast_phone_path_leaves_other_forms_to_phonenumbers(number: str) -> None:
    assert fast_phone(number) is None
    for region in (None, "GB"):
        assert _phone_outcome(clean_phone, number, region) == _phone_outcome(normalise_phone, number, region)


_calling_codes = st.one_of(st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)), st.integers(0, 999))
_groups = st.lists(st.tuples(st.sampled_from([" ", "-", ""]), st.text(alphabet="0123456789", min_size=1, max_size=5)),
                   min_size=0, max_size=5)
_regions = st.sampled_from([None, "GB", "US", "IT", "DE", "BR", "RU", "IN", "AU", "FR"])


def _phone_agrees(value: str, region: str | None) -> None:
    fast = fast_phone(value)
    if fast is not None:
        assert fast == normalise_phone(value, region)
    assert _phone_outcome(clean_phone, value, region) == _phone_outcome(normalise_phone, value, region)
    assert _phone_outcome(clean_phone_number, value, region) == _phone_outcome(normalise_phone, value, region)


def _national_examples() -> list[tuple[int, str]]:
    """Every example number phonenumbers has (every type of every region, every non-geographic code)."""
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(phonenumbers.PhoneNumberType.UNKNOWN):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                examples.append((example.country_code, str(example.national_number)))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            examples.append((example.country_code, str(example.national_number)))
    return examples


def _neighbours(national: str) -> list[str]:
    """The number with each digit changed in turn, one digit longer and one shorter: mostly invalid, some valid
    for another type or region of the calling code."""
    changed = [national[:i] + digit + national[i + 1:] for i in range(len(national)) for digit in "0123456789"]
    return [n for n in (*changed, national + "1", national[:-1]) if n and n[0] != "0"]


def test_our_phone_validity_is_phonenumbers_on_every_example_number_and_its_neighbours() -> None:
    numbers = {(code, n) for code, national in _national_examples() for n in (national, *_neighbours(national))}

    disagree = [(code, national) for code, national in sorted(numbers)
                if is_valid_national_number(code, national) != phonenumbers.is_valid_number(
                    phonenumbers.PhoneNumber(country_code=code, national_number=int(national)))]

    assert disagree == []
    valid = sum(is_valid_national_number(code, national) for code, national in numbers)
    assert 0.3 * len(numbers) < valid < 0.95 * len(numbers)  # both answers are well represented


@settings(max_examples=300, deadline=None, database=None)
@given(code=_calling_codes, national=st.text(alphabet="0123456789", min_size=1, max_size=17).filter(
    lambda n: n[0] != "0"))
def test_our_phone_validity_is_phonenumbers_on_any_digits(code: int, national: str) -> None:
    assert is_valid_national_number(code, national) == phonenumbers.is_valid_number(
        phonenumbers.PhoneNumber(country_code=code, national_number=int(national)))


@settings(max_examples=400, deadline=None, database=None)
@given(code=_calling_codes, groups=_groups, region=_regions)
def test_the_fast_phone_path_never_disagrees_with_phonenumbers(code: int, groups: list[tuple[str, str]],
                                                              region: str | None) -> None:
    _phone_agrees(f"+{code}" + "".join(separator + digits for separator, digits in groups), region)


@settings(max_examples=200, deadline=None, database=None)
@given(value=st.text(alphabet="+0123456789 ()-.x#", max_size=20), region=_regions)
def test_the_fast_phone_path_never_disagrees_with_phonenumbers_on_any_text(value: str, region: str | None) -> None:
    _phone_agrees(value, region)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, database=None)
@given(code=_calling_codes, groups=_groups, region=_regions)
def test_the_fast_phone_path_never_disagrees_with_phonenumbers_on_many_inputs(code: int, groups: list[tuple[str, str]],
                                                                             region: str | None) -> None:
    _phone_agrees(f"+{code}" + "".join(separator + digits for separator, digits in groups), region)
