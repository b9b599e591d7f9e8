"""Custom fields: definitions (FieldService) and the validation of values against them (merge_attributes)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cadenza.auth import Principal, Scope
from cadenza.bootstrap import Container
from cadenza.contacts.errors import DuplicateField, FieldNotFound, FieldTypeChange
from cadenza.contacts.field_types import FieldType
from cadenza.contacts.fields import FieldDefinition, merge_attributes
from cadenza.contacts.schemas import ContactCreate, ContactUpdate, FieldCreate, FieldUpdate
from cadenza.core.errors import PermissionDenied, ValidationFailed
from tests.conftest import Actors
from tests.contacts.factories import audit_entries, counts, make_contact, make_field


def definition(type: str, options: tuple[str, ...] = (), *, required: bool = False) -> FieldDefinition:
    return FieldDefinition("f", FieldType(type), options, required, False)


# ---- values, per type (pure) ----------------------------------------------------------------------


@pytest.mark.parametrize(("type", "options", "raw", "stored"), [
    ("text", (), "hello", "hello"),
    ("text", (), 42, "42"),
    ("number", (), 3, 3),
    ("number", (), "2.5", 2.5),
    ("number", (), "1 000", 1000),
    ("boolean", (), True, True),
    ("boolean", (), "yes", True),
    ("boolean", (), "0", False),
    ("date", (), "2026-03-01", "2026-03-01"),
    ("date", (), "01/03/2026", "2026-03-01"),
    ("enum", ("free", "pro"), "pro", "pro"),
    ("list", (), ["a", " b "], ["a", "b"]),
    ("list", (), "a; b", ["a", "b"]),
    ("list", ("red", "blue"), ["red"], ["red"]),
], ids=lambda value: repr(value))
def test_good_values_are_stored_in_their_type(type: str, options: tuple[str, ...], raw: Any, stored: Any) -> None:
    assert merge_attributes({"f": definition(type, options)}, {}, {"f": raw}, creating=True) == {"f": stored}


@pytest.mark.parametrize(("type", "options", "raw", "message"), [
    ("text", (), "x" * 10_001, "is longer than 10000 characters"),
    ("text", (), {"a": 1}, "must be a text value"),
    ("number", (), "many", "must be a number, got 'many'"),
    ("number", (), True, "must be a number, not true/false"),
    ("number", (), [1], "must be a number value"),
    ("boolean", (), "maybe", "must be true or false, got 'maybe'"),
    ("date", (), "31 Feb", "must be a date like 2026-01-31, got '31 Feb'"),
    ("date", (), "2026-02-31", "must be a date like 2026-01-31, got '2026-02-31'"),
    ("enum", ("free", "pro"), "gold", "must be one of free, pro"),
    ("list", ("red", "blue"), ["red", "green"], "has values not among the options: green"),
    ("list", (), [{"a": 1}], "must be a list value"),
], ids=lambda value: repr(value)[:30])
def test_bad_values_are_refused_naming_the_field(type: str, options: tuple[str, ...], raw: Any, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        merge_attributes({"f": definition(type, options)}, {}, {"f": raw}, creating=True)
    assert caught.value.errors == [{"field": "attributes.f", "message": message}]


def test_unknown_keys_are_refused_but_null_removes_a_left_over_value() -> None:
    with pytest.raises(ValidationFailed) as caught:
        merge_attributes({}, {}, {"nickname": "Ada"}, creating=False)
    assert caught.value.errors == [{"field": "attributes.nickname",
                                    "message": "is not a custom field of this workspace"}]
    assert merge_attributes({}, {"old": 1, "keep": 2}, {"old": None}, creating=False) == {"keep": 2}


def test_required_fields_need_a_value_on_create_and_cannot_be_removed() -> None:
    definitions = {"plan": FieldDefinition("plan", FieldType.TEXT, (), True, False)}
    with pytest.raises(ValidationFailed) as caught:
        merge_attributes(definitions, {}, {}, creating=True)
    assert caught.value.errors == [{"field": "attributes.plan", "message": "is required"}]
    with pytest.raises(ValidationFailed):
        merge_attributes(definitions, {"plan": "pro"}, {"plan": None}, creating=False)
    with pytest.raises(ValidationFailed):
        merge_attributes(definitions, {"plan": "pro"}, {"plan": ""}, creating=False)
    # a contact created before the field became required can still be updated otherwise
    assert merge_attributes(definitions, {}, {}, creating=False) == {}


def test_attributes_merge_key_by_key() -> None:
    definitions = {key: FieldDefinition(key, FieldType.TEXT, (), False, False) for key in ("a", "b", "c")}
    assert merge_attributes(definitions, {"a": "1", "b": "2"}, {"b": None, "c": "3"}, creating=False) == {
        "a": "1", "c": "3"}


# ---- definitions ----------------------------------------------------------------------------------


def test_create_list_get_a_field(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    plan = make_field(container, alice, "plan", "enum", options=["free", "pro"], is_required=True)
    make_field(container, alice, "industry", "text", entity="company")
    make_field(container, alice, "age", "number")

    assert [(f.key, f.type, f.options, f.is_required) for f in container.fields.list_fields(alice)] == [
        ("age", FieldType.NUMBER, [], False), ("plan", FieldType.ENUM, ["free", "pro"], True)]
    assert [f.key for f in container.fields.list_fields(alice, "company")] == ["industry"]
    assert container.fields.get_field(alice, plan.id) == plan
    assert container.fields.list_fields(actors.charlie.principal) == []
    assert audit_entries(container, "field.created")[0].changes == {
        "entity": "contact", "key": "plan", "type": "enum", "options": ["free", "pro"], "is_required": True,
        "is_personal": False}


@pytest.mark.parametrize("key", ["Plan", "1plan", "plan-type", "", "p" * 65, "plän"])
def test_a_key_must_be_a_slug(key: str) -> None:
    with pytest.raises(ValidationError):
        FieldCreate(key=key, label="x", type=FieldType.TEXT)


@pytest.mark.parametrize(("values", "field"), [
    ({"key": "email", "type": "text"}, "key"),
    ({"key": "tags", "type": "text"}, "key"),
    ({"key": "plan", "type": "enum"}, "options"),
    ({"key": "plan", "type": "number", "options": ["1"]}, "options"),
    ({"key": "plan", "type": "enum", "options": ["a", "a"]}, "options"),
    ({"key": "plan", "type": "enum", "options": ["a", " "]}, "options"),
], ids=["reserved-email", "reserved-tags", "enum-without-options", "number-with-options", "repeated-option",
        "blank-option"])
def test_bad_definitions_are_refused(container: Container, actors: Actors, values: dict[str, Any],
                                     field: str) -> None:
    before = counts(container)
    with pytest.raises(ValidationFailed) as caught:
        container.fields.create_field(actors.alice.principal, FieldCreate(label="x", **values))
    assert [e["field"] for e in caught.value.errors] == [field]
    assert counts(container) == before


def test_a_key_is_unique_per_workspace_and_entity(container: Container, actors: Actors) -> None:
    make_field(container, actors.alice.principal, "plan")
    make_field(container, actors.alice.principal, "plan", entity="company")
    make_field(container, actors.charlie.principal, "plan")
    with pytest.raises(DuplicateField):
        make_field(container, actors.alice.principal, "plan", "number")


def test_update_changes_label_options_and_flags_but_never_the_type(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    plan = make_field(container, alice, "plan", "enum", options=["free", "pro"])
    updated = container.fields.update_field(alice, plan.id, FieldUpdate(
        label="Pricing plan", options=["free", "pro", "team"], is_required=True, is_personal=True, type="enum"))
    assert (updated.label, updated.options, updated.is_required, updated.is_personal) == (
        "Pricing plan", ["free", "pro", "team"], True, True)
    assert audit_entries(container, "field.updated")[0].changes == {
        "label": ["Plan", "Pricing plan"], "options": [["free", "pro"], ["free", "pro", "team"]],
        "is_required": [False, True], "is_personal": [False, True]}
    with pytest.raises(FieldTypeChange) as caught:
        container.fields.update_field(alice, plan.id, FieldUpdate(type="text"))
    assert caught.value.status == 409
    with pytest.raises(ValidationFailed):
        container.fields.update_field(alice, plan.id, FieldUpdate(options=[]))
    assert container.fields.get_field(alice, plan.id).type == FieldType.ENUM


def test_deleting_a_field_keeps_its_values(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    plan = make_field(container, alice, "plan")
    contact = make_contact(container, alice, attributes={"plan": "pro"})
    container.fields.delete_field(alice, plan.id)

    assert container.fields.list_fields(alice) == []
    assert container.contacts.get_contact(alice, contact.id).attributes == {"plan": "pro"}
    with pytest.raises(ValidationFailed):  # no longer writable …
        container.contacts.update_contact(alice, contact.id, ContactUpdate(attributes={"plan": "team"}))
    cleared = container.contacts.update_contact(alice, contact.id, ContactUpdate(attributes={"plan": None}))
    assert cleared.attributes == {}  # … but removable
    assert audit_entries(container, "field.deleted")[0].changes == {"entity": "contact", "key": "plan", "type": "text"}


def test_required_fields_are_enforced_on_contacts(container: Container, actors: Actors) -> None:
    alice = actors.alice.principal
    make_field(container, alice, "plan", "enum", options=["free", "pro"], is_required=True)
    with pytest.raises(ValidationFailed) as caught:
        container.contacts.create_contact(alice, ContactCreate(email="a@example.com"))
    assert caught.value.errors == [{"field": "attributes.plan", "message": "is required"}]
    contact = container.contacts.create_contact(alice, ContactCreate(email="a@example.com",
                                                                     attributes={"plan": "free"}))
    with pytest.raises(ValidationFailed):
        container.contacts.update_contact(alice, contact.id, ContactUpdate(attributes={"plan": None}))


def test_other_workspaces_and_read_only_callers(container: Container, actors: Actors) -> None:
    plan = make_field(container, actors.alice.principal, "plan")
    charlie = actors.charlie.principal
    for attempt in (lambda: container.fields.get_field(charlie, plan.id),
                    lambda: container.fields.update_field(charlie, plan.id, FieldUpdate(label="x")),
                    lambda: container.fields.delete_field(charlie, plan.id)):
        with pytest.raises(FieldNotFound):
            attempt()
    read_only = Principal.for_api_key(actors.alice.workspace_id, 0, "read key", Scope.READ)
    before = counts(container)
    with pytest.raises(PermissionDenied):
        container.fields.create_field(read_only, FieldCreate(key="x", label="x", type=FieldType.TEXT))
    with pytest.raises(PermissionDenied):
        container.fields.delete_field(read_only, plan.id)
    assert counts(container) == before
    assert container.fields.get_field(actors.alice.principal, plan.id).label == "Plan"
