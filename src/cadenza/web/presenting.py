"""How values read on a page: custom attributes by their field definitions, typed form values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cadenza.contacts.schemas import FieldOut


@dataclass(frozen=True)
class AttributeRow:
    key: str
    label: str
    type: str
    value: Any
    shown: str
    is_personal: bool = False


def show_value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show_value(v)}" for k, v in value.items())
    return str(value)


def form_value(value: Any) -> str:
    """The text an input shows for a stored value, and that round-trips through the field's coercion."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def attribute_rows(attributes: dict[str, Any], fields: list[FieldOut]) -> tuple[list[AttributeRow], list[AttributeRow]]:
    """(the workspace's custom fields with this contact's values, other stored traits without a field)."""
    defined = [AttributeRow(f.key, f.label, str(f.type), attributes.get(f.key), show_value(attributes.get(f.key)),
                            f.is_personal) for f in fields]
    known = {f.key for f in fields}
    others = [AttributeRow(key, key, "trait", value, show_value(value))
              for key, value in sorted(attributes.items()) if key not in known]
    return defined, others
