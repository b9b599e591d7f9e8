"""Custom field definitions and the validation of their values.

Deleting a definition keeps the values already stored under its key in `attributes` (deleting data
is an erase request's job, not a schema edit's); the key simply stops being writable through the
strict REST API, except to remove it with `null`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadenza.auth import Permission, Principal, record_audit
from cadenza.contacts.errors import DuplicateField, FieldNotFound, FieldTypeChange, require
from cadenza.contacts.field_types import FieldType, coerce
from cadenza.contacts.models import CustomField
from cadenza.contacts.normalize import InvalidValue
from cadenza.contacts.schemas import FieldCreate, FieldOut, FieldUpdate
from cadenza.core.clock import Clock
from cadenza.core.errors import ValidationFailed
from cadenza.storage import Database

# Keys a custom field may not take: they name the contact's own columns and representation.
RESERVED_KEYS = frozenset({
    "id", "workspace_id", "email", "phone", "first_name", "last_name", "name", "external_id", "timezone",
    "company", "company_id", "tags", "attributes", "created_at", "updated_at", "last_seen_at", "domain",
})
_SCALARS = (str, int, float, bool)


@dataclass(frozen=True)
class FieldDefinition:
    key: str
    type: FieldType
    options: tuple[str, ...]
    is_required: bool
    is_personal: bool


def load_definitions(session: Session, workspace_id: int, entity: str) -> dict[str, FieldDefinition]:
    rows = session.scalars(select(CustomField).where(CustomField.workspace_id == workspace_id,
                                                     CustomField.entity == entity))
    return {row.key: FieldDefinition(row.key, FieldType(row.type), tuple(row.options or ()), row.is_required,
                                     row.is_personal) for row in rows}


def merge_attributes(definitions: Mapping[str, FieldDefinition], current: Mapping[str, Any],
                     incoming: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """The attributes after applying `incoming` to `current`, key by key. Pure.

    Unknown keys are refused (except `null`, which removes a left-over value of a deleted field);
    values are coerced to their field's type; `null` or "" removes a key; required fields must have
    a value on create and cannot be removed later. Raises one ValidationFailed listing every problem.
    """
    merged = dict(current)
    errors: list[dict[str, str]] = []
    for key, value in incoming.items():
        name = f"attributes.{key}"
        definition = definitions.get(key)
        if definition is None:
            if value is None:
                merged.pop(key, None)
            else:
                errors.append({"field": name, "message": "is not a custom field of this workspace"})
            continue
        if value is not None and not _shape_ok(definition.type, value):
            errors.append({"field": name, "message": f"must be a {definition.type} value"})
            continue
        try:
            coerced = coerce(definition.type, value, list(definition.options) or None)
        except InvalidValue as error:
            errors.append({"field": name, "message": str(error)})
            continue
        if coerced is None or coerced == []:
            merged.pop(key, None)
            if definition.is_required:
                errors.append({"field": name, "message": "is required"})
        else:
            merged[key] = coerced
    if creating:
        errors.extend({"field": f"attributes.{key}", "message": "is required"}
                      for key, definition in sorted(definitions.items())
                      if definition.is_required and key not in merged and key not in incoming)
    if errors:
        detail = "; ".join(f"{e['field']} {e['message']}" for e in errors[:5])
        raise ValidationFailed(detail, errors=errors)
    return merged


def _shape_ok(field_type: FieldType, value: Any) -> bool:
    if field_type is FieldType.LIST:
        return isinstance(value, _SCALARS) or (isinstance(value, list) and all(isinstance(v, _SCALARS)
                                                                             for v in value))
    return isinstance(value, _SCALARS)


def filter_value(definition: FieldDefinition | None, key: str, raw: str) -> Any:
    """The stored form of a list filter's `attr.<key>=raw` value (text for keys without a definition)."""
    if definition is None:
        return raw
    kind = FieldType.TEXT if definition.type is FieldType.LIST else definition.type
    try:
        return coerce(kind, raw)
    except InvalidValue as error:
        raise ValidationFailed(f"attr.{key} {error}", errors=[{"field": f"attr.{key}", "message": str(error)}])


def field_out(row: CustomField) -> FieldOut:
    return FieldOut(id=row.id, entity=row.entity, key=row.key, label=row.label, type=FieldType(row.type),  # type: ignore[arg-type]
                    options=list(row.options or []), is_required=row.is_required, is_personal=row.is_personal,
                    created_at=row.created_at)


def _check_options(field_type: FieldType, options: list[str]) -> list[str]:
    cleaned = [option.strip() for option in options]
    if field_type is FieldType.ENUM and not cleaned:
        raise ValidationFailed("An enum field needs options.", errors=[{"field": "options", "message": "is required"}])
    if cleaned and field_type not in (FieldType.ENUM, FieldType.LIST):
        raise ValidationFailed(f"A {field_type} field takes no options.",
                               errors=[{"field": "options", "message": "only enum and list fields have options"}])
    if any(not option for option in cleaned) or len(set(cleaned)) != len(cleaned):
        raise ValidationFailed("Options must be non-empty and distinct.",
                               errors=[{"field": "options", "message": "must be non-empty and distinct"}])
    return cleaned


class FieldService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def list_fields(self, principal: Principal, entity: str = "contact") -> list[FieldOut]:
        require(principal, Permission.READ)
        with self.db.read() as session:
            rows = session.scalars(select(CustomField).where(
                CustomField.workspace_id == principal.workspace_id, CustomField.entity == entity,
            ).order_by(CustomField.key))
            return [field_out(row) for row in rows]

    def get_field(self, principal: Principal, field_id: int) -> FieldOut:
        require(principal, Permission.READ)
        with self.db.read() as session:
            return field_out(self._load(session, principal, field_id))

    def create_field(self, principal: Principal, data: FieldCreate) -> FieldOut:
        require(principal, Permission.WRITE)
        if data.key in RESERVED_KEYS:
            raise ValidationFailed(f"{data.key!r} is a built-in field name.",
                                   errors=[{"field": "key", "message": "is reserved"}])
        options = _check_options(data.type, data.options)
        now = self.clock.now()
        try:
            with self.db.transaction() as session:
                if session.scalar(select(CustomField.id).where(
                        CustomField.workspace_id == principal.workspace_id, CustomField.entity == data.entity,
                        CustomField.key == data.key)) is not None:
                    raise DuplicateField(f"A {data.entity} field {data.key!r} already exists.",
                                         errors=[{"field": "key", "message": "already exists"}])
                row = CustomField(workspace_id=principal.workspace_id, entity=data.entity, key=data.key,
                                  label=data.label.strip() or data.key, type=str(data.type), options=options,
                                  is_required=data.is_required, is_personal=data.is_personal, created_at=now)
                session.add(row)
                session.flush()
                record_audit(session, principal, "field.created", at=now, target_type="field", target_id=row.id,
                             changes={"entity": data.entity, "key": data.key, "type": str(data.type),
                                      "options": options, "is_required": data.is_required,
                                      "is_personal": data.is_personal})
                return field_out(row)
        except IntegrityError:
            raise DuplicateField(f"A {data.entity} field {data.key!r} already exists.",
                                 errors=[{"field": "key", "message": "already exists"}])

    def update_field(self, principal: Principal, field_id: int, data: FieldUpdate) -> FieldOut:
        require(principal, Permission.WRITE)
        now = self.clock.now()
        with self.db.transaction() as session:
            row = self._load(session, principal, field_id)
            if data.type is not None and data.type != row.type:
                raise FieldTypeChange(
                    f"Field {row.key!r} is {row.type}; its type cannot change. Create a new field instead.",
                    errors=[{"field": "type", "message": "cannot change"}])
            updates: dict[str, Any] = {}
            if data.label is not None:
                updates["label"] = data.label.strip() or row.key
            if data.options is not None:
                updates["options"] = _check_options(FieldType(row.type), data.options)
            if data.is_required is not None:
                updates["is_required"] = data.is_required
            if data.is_personal is not None:
                updates["is_personal"] = data.is_personal
            changes = {name: [getattr(row, name), value] for name, value in updates.items()
                       if getattr(row, name) != value}
            for name, value in updates.items():
                setattr(row, name, value)
            if changes:
                record_audit(session, principal, "field.updated", at=now, target_type="field", target_id=row.id,
                             changes=changes)
            session.flush()
            return field_out(row)

    def delete_field(self, principal: Principal, field_id: int) -> None:
        """Drops the definition; values stored under its key stay on the contacts (see module doc)."""
        require(principal, Permission.WRITE)
        now = self.clock.now()
        with self.db.transaction() as session:
            row = self._load(session, principal, field_id)
            session.execute(delete(CustomField).where(CustomField.id == row.id))
            record_audit(session, principal, "field.deleted", at=now, target_type="field", target_id=row.id,
                         changes={"entity": row.entity, "key": row.key, "type": row.type})

    @staticmethod
    def _load(session: Session, principal: Principal, field_id: int) -> CustomField:
        row = session.scalar(select(CustomField).where(CustomField.id == field_id,
                                                       CustomField.workspace_id == principal.workspace_id))
        if row is None:
            raise FieldNotFound(f"No custom field {field_id} in this workspace.")
        return row
