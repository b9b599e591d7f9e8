"""Which contact field each CSV column fills: a guess from the headers, overridable by the user. Pure.

A mapping is a dict header → target. Targets: `email`, `first_name`, `last_name`, `phone`, `company`
(a company name: linked to the workspace's company of that name, created when there is none),
`external_id`, `tags` (cells split on `,` or `;`), `timezone`, `field:<key>` (a custom field),
`attributes.<slug>` (kept as an unmapped attribute) and `ignore`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cadenza.core.errors import ValidationFailed
from cadenza.core.text import slugify

STANDARD_TARGETS = ("email", "first_name", "last_name", "phone", "company", "external_id", "tags", "timezone")
IGNORE = "ignore"
FIELD_PREFIX = "field:"
ATTRIBUTE_PREFIX = "attributes."
IDENTIFYING_TARGETS = ("email", "external_id", "phone")
_REPEATABLE = {"tags", IGNORE}
_ATTRIBUTE_SLUG = re.compile(r"^[a-z0-9_]{1,64}$")

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "mail", "emailid", "mailaddress", "courriel", "correo",
              "correoelectronico", "emailadresse"),
    "first_name": ("firstname", "givenname", "forename", "first", "fname", "prenom", "prénom", "vorname",
                   "nombre"),
    "last_name": ("lastname", "surname", "familyname", "last", "lname", "nom", "nachname", "apellido",
                  "apellidos"),
    "phone": ("phone", "phonenumber", "mobile", "mobilephone", "mobilenumber", "mobilephonenumber", "cell",
              "cellphone", "cellnumber", "tel", "telephone", "telephonenumber", "téléphone", "telefon",
              "telefono", "teléfono", "msisdn", "handy"),
    "company": ("company", "companyname", "organisation", "organization", "organisationname",
                "organizationname", "org", "account", "accountname", "employer", "société", "societe",
                "firma", "unternehmen", "empresa"),
    "external_id": ("externalid", "userid", "customerid", "memberid", "crmid", "externaluserid"),
    "tags": ("tags", "tag", "labels", "label"),
    "timezone": ("timezone", "tz", "timezonename", "zone"),
}
_TARGET_OF = {synonym: target for target, synonyms in _SYNONYMS.items() for synonym in synonyms}


@dataclass(frozen=True)
class FieldChoice:
    """A custom field a column can fill."""

    key: str
    label: str
    type: str
    options: tuple[str, ...] = ()
    is_required: bool = False  # a new contact must have a value


def header_key(header: str) -> str:
    """`" E-mail Address "` → `"emailaddress"`: case, spaces and punctuation do not count."""
    return "".join(ch for ch in header.casefold() if ch.isalnum())


def guess_mapping(headers: Iterable[str], fields: Iterable[FieldChoice] = (), *,
                  keep_unmapped: bool = False) -> dict[str, str]:
    """A target for every header. A custom field whose key or label matches wins over the built-in
    synonyms (the workspace defined it on purpose); each target but `tags` is used once, by the first
    column that matches; anything else is `ignore`, or `attributes.<slug>` when `keep_unmapped`."""
    by_key: dict[str, str] = {}
    for field in fields:
        by_key.setdefault(header_key(field.key), field.key)
        by_key.setdefault(header_key(field.label), field.key)
    used: set[str] = set()
    mapping: dict[str, str] = {}
    for header in headers:
        key = header_key(header)
        candidates = []
        if key in by_key:
            candidates.append(FIELD_PREFIX + by_key[key])
        if key in _TARGET_OF:
            candidates.append(_TARGET_OF[key])
        target = next((c for c in candidates if c not in used or c in _REPEATABLE), None)
        if target is None:
            slug = slugify(header)[:64]
            target = ATTRIBUTE_PREFIX + slug if keep_unmapped and slug else IGNORE
        if target != IGNORE:
            used.add(target)
        mapping[header] = target
    return mapping


def resolve_mapping(headers: list[str], fields: Iterable[FieldChoice], overrides: Mapping[str, str] | None,
                    *, keep_unmapped: bool = False) -> dict[str, str]:
    """The guessed mapping with the user's choices laid over it, checked. Raises ValidationFailed."""
    field_keys = {field.key for field in fields}
    mapping = guess_mapping(headers, fields, keep_unmapped=keep_unmapped)
    problems: list[dict[str, str]] = []
    for header, target in (overrides or {}).items():
        if header not in mapping:
            problems.append({"field": f"mapping.{header}", "message": "is not a column of this file"})
            continue
        cleaned = normalise_target(target)
        message = target_problem(cleaned, field_keys)
        if message:
            problems.append({"field": f"mapping.{header}", "message": message})
        mapping[header] = cleaned
    if not problems:
        problems.extend(_repeated_targets(mapping))
        if not any(target in IDENTIFYING_TARGETS for target in mapping.values()):
            problems.append({"field": "mapping", "message": "map a column to email, external_id or phone"})
    if problems:
        detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        raise ValidationFailed(f"The column mapping cannot be used: {detail}.", errors=problems)
    return mapping


def normalise_target(target: str) -> str:
    cleaned = target.strip()
    lowered = cleaned.lower()
    if lowered in STANDARD_TARGETS or lowered == IGNORE:
        return lowered
    if lowered.startswith(FIELD_PREFIX):
        return FIELD_PREFIX + cleaned[len(FIELD_PREFIX):].strip()
    if lowered.startswith(ATTRIBUTE_PREFIX):
        return ATTRIBUTE_PREFIX + cleaned[len(ATTRIBUTE_PREFIX):].strip()
    return cleaned


def target_problem(target: str, field_keys: set[str]) -> str | None:
    """Why `target` is not a target, or None."""
    if target in STANDARD_TARGETS or target == IGNORE:
        return None
    if target.startswith(FIELD_PREFIX):
        key = target[len(FIELD_PREFIX):]
        return None if key in field_keys else f"there is no custom field {key!r}"
    if target.startswith(ATTRIBUTE_PREFIX):
        slug = target[len(ATTRIBUTE_PREFIX):]
        return None if _ATTRIBUTE_SLUG.match(slug) else "an attribute name is 1-64 of a-z, 0-9 and _"
    return (f"{target!r} is not a target; use one of {', '.join(STANDARD_TARGETS)}, field:<key>, "
            f"attributes.<name> or ignore")


def _repeated_targets(mapping: Mapping[str, str]) -> list[dict[str, str]]:
    columns: dict[str, list[str]] = {}
    for header, target in mapping.items():
        if target not in _REPEATABLE:
            columns.setdefault(target, []).append(header)
    return [{"field": f"mapping.{headers[1]}", "message": f"{target} is already filled by column {headers[0]!r}"}
            for target, headers in columns.items() if len(headers) > 1]
