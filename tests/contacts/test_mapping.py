"""Guessing which field each CSV column fills, and checking a user's mapping. Pure."""

from __future__ import annotations

import pytest

from cadenza.contacts.mapping import FieldChoice, guess_mapping, header_key, resolve_mapping
from cadenza.core.errors import ValidationFailed

PLAN = FieldChoice("plan", "Subscription plan", "enum", ("free", "pro"))
SEATS = FieldChoice("seats", "Seats", "number")


@pytest.mark.parametrize(("header", "target"), [
    ("E-mail", "email"), ("Email Address", "email"), ("EMAIL", "email"), ("e_mail", "email"),
    ("First Name", "first_name"), ("given name", "first_name"), ("Prénom", "first_name"),
    ("Last name", "last_name"), ("Surname", "last_name"), ("family_name", "last_name"),
    ("Phone", "phone"), ("Mobile", "phone"), ("Tel.", "phone"), ("Phone Number", "phone"),
    ("Company", "company"), ("Organisation", "company"), ("organization name", "company"),
    ("External ID", "external_id"), ("User Id", "external_id"), ("user_id", "external_id"),
    ("Tags", "tags"), ("Time zone", "timezone"), ("TZ", "timezone"),
    ("Notes", "ignore"), ("Name", "ignore"),
], ids=lambda value: str(value))
def test_headers_are_guessed_whatever_their_case_spaces_and_punctuation(header: str, target: str) -> None:
    assert guess_mapping([header]) == {header: target}


def test_custom_fields_match_by_key_or_label() -> None:
    mapping = guess_mapping(["Email", "Subscription Plan", "SEATS", "Other"], [PLAN, SEATS])

    assert mapping == {"Email": "email", "Subscription Plan": "field:plan", "SEATS": "field:seats",
                       "Other": "ignore"}


def test_a_custom_field_wins_over_a_built_in_synonym() -> None:
    mobile = FieldChoice("mobile", "Mobile", "text")

    assert guess_mapping(["Phone", "Mobile"], [mobile]) == {"Phone": "phone", "Mobile": "field:mobile"}


def test_each_target_is_guessed_once_but_tags_may_repeat() -> None:
    mapping = guess_mapping(["Email", "E-mail", "Tags", "Labels"])

    assert mapping == {"Email": "email", "E-mail": "ignore", "Tags": "tags", "Labels": "tags"}


def test_unmapped_columns_become_attributes_when_asked() -> None:
    mapping = guess_mapping(["Email", "Favourite Colour", "!!!"], keep_unmapped=True)

    assert mapping == {"Email": "email", "Favourite Colour": "attributes.favourite_colour", "!!!": "ignore"}


def test_the_users_choices_override_the_guess_column_by_column() -> None:
    mapping = resolve_mapping(["Email", "Mobile", "Plan", "Notes"], [PLAN],
                              {"Mobile": "ignore", "Notes": "attributes.notes", "Plan": " FIELD:plan "})

    assert mapping == {"Email": "email", "Mobile": "ignore", "Plan": "field:plan", "Notes": "attributes.notes"}


@pytest.mark.parametrize(("overrides", "errors"), [
    ({"Missing": "email"}, [{"field": "mapping.Missing", "message": "is not a column of this file"}]),
    ({"Notes": "field:nope"}, [{"field": "mapping.Notes", "message": "there is no custom field 'nope'"}]),
    ({"Notes": "attributes.Bad Name"},
     [{"field": "mapping.Notes", "message": "an attribute name is 1-64 of a-z, 0-9 and _"}]),
    ({"Notes": "email"}, [{"field": "mapping.Notes", "message": "email is already filled by column 'Email'"}]),
    ({"Email": "ignore"}, [{"field": "mapping", "message": "map a column to email, external_id or phone"}]),
], ids=["unknown-column", "unknown-field", "bad-attribute", "repeated-target", "no-identifier"])
def test_a_mapping_that_cannot_be_used_is_refused_naming_the_column(overrides: dict[str, str],
                                                                     errors: list[dict[str, str]]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        resolve_mapping(["Email", "Notes"], [PLAN], overrides)

    assert refused.value.errors == errors


def test_an_unknown_target_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationFailed) as refused:
        resolve_mapping(["Email", "Notes"], [], {"Notes": "nickname"})

    assert refused.value.errors[0]["message"] == (
        "'nickname' is not a target; use one of email, first_name, last_name, phone, company, external_id, tags, "
        "timezone, field:<key>, attributes.<name> or ignore")


def test_header_keys_ignore_case_spaces_and_punctuation() -> None:
    assert header_key(" E-Mail Address ") == "emailaddress"
    assert header_key("Téléphone") == "téléphone"
