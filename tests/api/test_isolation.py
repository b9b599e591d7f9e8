"""Proof that no API route lets one workspace read or change another's data.

The proof is generic: it walks every route the app serves under /api/v1 and /v1 (routers added
later are picked up without touching this file), aims each one at alice's rows by putting alice's
ids into path parameters, query filters and JSON bodies, and calls it with charlie's admin key.
It then checks that
  * a route aimed at alice's ids is refused (400/401/403/404/405/409/422), never answered 2xx;
  * no answer holds anything of alice's (her markers, key prefixes, or the ids of her list items);
  * every row of alice's workspace is byte-for-byte what it was, and no row of charlie's points at
    one of alice's through a foreign key.
The same walk with an analyst's session and with read-only keys proves every change is refused with
403 and writes nothing.

Path and body names are matched to alice's rows by name (`contact_id`, `company_id`, `/fields/{id}`…).
A name this file does not know gets each of alice's ids in turn and is held to the data checks.
"""

from __future__ import annotations

import json
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Column, Table, select
from sqlalchemy.orm import Session

import cadenza.api.routers
from cadenza.auth import Role, Scope
from cadenza.auth.models import ApiKey, AuditEntry, Membership, User
from cadenza.bootstrap import Container
from cadenza.contacts.models import (
    Company,
    Contact,
    ContactIdentity,
    ContactImport,
    ContactMerge,
    ContactTag,
    CustomField,
    DuplicateCandidate,
    DuplicateScan,
    ImportRowError,
)
from cadenza.events.models import Event
from cadenza.schema import schema_metadata
from cadenza.storage import Database
from cadenza.storage.models import Job
from tests.auth.factories import make_member
from tests.conftest import Actors

API_PREFIXES = ("/api/v1/", "/v1/")
REFUSED = {400, 401, 403, 404, 405, 409, 422}
MARKER = "qzalice"  # in every text row seeded into alice's workspace; nowhere else, nor in anything we send
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
# Changes an analyst or a read key may make. Add (METHOD, path) here for a POST that only reads.
READ_ONLY_CHANGES: set[tuple[str, str]] = set()

# A word from a parameter name or a path segment → which of alice's values it names.
RESOURCES = {
    "contact": "contact", "contacts": "contact", "survivor": "contact", "merged": "contact",
    "merged_contact": "contact", "other_contact": "contact", "person": "contact", "people": "contact",
    "company": "company", "companies": "company", "group": "company",
    "field": "field", "fields": "field", "custom_field": "field", "custom_fields": "field",
    "import": "import", "imports": "import", "contact_import": "import",
    "duplicate": "duplicate", "duplicates": "duplicate", "candidate": "duplicate", "candidates": "duplicate",
    "scan": "duplicate_scan", "scans": "duplicate_scan",
    "event": "event", "events": "event",
    "user": "user", "users": "user", "member": "user", "members": "user",
    "api_key": "api_key", "api_keys": "api_key", "keys": "api_key",
    "audit": "audit", "audit_log": "audit", "entry": "audit", "entries": "audit",
    "merge": "merge", "merges": "merge",
    "tag": "tag", "tags": "tag",
    "identity": "identity", "identities": "identity",
    "error": "import_error", "errors": "import_error",
    "job": "job", "jobs": "job",
}
GENERIC_NAMES = {"id", "pk", "key", "slug", "name", "uuid"}


# ---- the routes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as declared, e.g. /api/v1/contacts/{contact_id}
    operation: dict[str, Any] | None  # its OpenAPI operation, when it is in the schema


def api_endpoints(app: FastAPI) -> list[Endpoint]:
    """Every (method, path) the app serves under /api/v1 and /v1, however its routers are nested."""
    try:
        from fastapi.routing import iter_route_contexts
        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # FastAPI before route contexts: app.routes is already flat
        routes = list(app.routes)
    spec_paths = app.openapi().get("paths", {})
    found: dict[tuple[str, str], Endpoint] = {}
    for route in routes:
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", getattr(route, "path", None) or "")
        if not path.startswith(API_PREFIXES):
            continue
        for method in sorted(set(getattr(route, "methods", None) or ()) - SKIPPED_METHODS):
            operation = spec_paths.get(path, {}).get(method.lower())
            found.setdefault((method, path), Endpoint(method, path, operation))
    return list(found.values())


# ---- alice's data --------------------------------------------------------------------------


@dataclass
class AliceData:
    workspace_id: int
    values: dict[str, list[Any]]  # resource → alice's ids (or keys, tags)
    markers: list[str]  # strings only alice's data contains

    def every_value(self) -> list[Any]:
        return [values[0] for values in self.values.values() if values]


def seed_alice(container: Container, actors: Actors, client: TestClient) -> AliceData:
    """A row of every kind in alice's workspace, each carrying the marker in its text."""
    alice = actors.alice.principal
    make_member(container, alice, "dana@qzalice-staff.example", Role.ANALYST)
    now = container.clock.now()
    workspace = alice.workspace_id
    with container.db.transaction() as session:
        company = Company(workspace_id=workspace, external_id="grp-a1", name="Qzalice Widgets",
                          domain="qzalice.example", attributes={"tier": "qzalice gold"}, created_at=now,
                          updated_at=now)
        session.add(company)
        session.flush()
        contacts = [Contact(workspace_id=workspace, external_id=f"usr-a{n}", email=f"p{n}@qzalice-customer.example",
                            first_name=f"Qzalice{n}", last_name="Qzalice-Person", company_id=company.id,
                            attributes={"plan_a1": "qzalice pro"}, created_at=now, updated_at=now) for n in (1, 2)]
        session.add_all(contacts)
        session.flush()
        first, second = contacts
        added: dict[str, Any] = {
            "identity": ContactIdentity(workspace_id=workspace, kind="anonymous_id", value="anon-a1",
                                        contact_id=first.id, created_at=now),
            "tag": ContactTag(workspace_id=workspace, contact_id=first.id, tag="vip-a1"),
            "field": CustomField(workspace_id=workspace, entity="contact", key="plan_a1", label="Qzalice plan",
                                 type="text", created_at=now),
            "merge": ContactMerge(workspace_id=workspace, survivor_id=first.id, merged_contact_id=999_999,
                                  merged_snapshot={"email": "old@qzalice-customer.example"}, moved={"events": 1},
                                  actor_label="alice@acme.test", created_at=now),
            "duplicate": DuplicateCandidate(workspace_id=workspace, contact_id=first.id, other_contact_id=second.id,
                                            reason="name_company", score=0.9, created_at=now),
            "import": ContactImport(workspace_id=workspace, filename="qzalice-list.csv", status="done", rows_total=2,
                                    created_by="alice@acme.test", created_at=now, finished_at=now),
            "event": Event(workspace_id=workspace, contact_id=first.id, message_id="msg-a1", type="track",
                           name="Qzalice Signup", user_id="usr-a1", occurred_at=now, received_at=now,
                           properties={"plan": "qzalice pro"}, context={}, integrations={}, source="api"),
        }
        session.add_all(added.values())
        session.flush()
        session.add(ImportRowError(workspace_id=workspace, import_id=added["import"].id, line=3, column="email",
                                   message="qzalice: not an email", raw="qzalice,,"))
        scan_job = Job(workspace_id=workspace, kind="contacts.duplicate_scan", payload={"note": "qzalice"},
                       status="running", due_at=now, attempts=1, max_attempts=3, created_at=now)
        session.add_all([scan_job, Job(workspace_id=workspace, kind="probe.qzalice", payload={"note": "qzalice"},
                                       status="failed", due_at=now, attempts=5, max_attempts=5,
                                       last_error="qzalice broke", created_at=now, finished_at=now)])
        session.flush()
        # One scan that ended and one running (the running one also blocks nothing in charlie's workspace).
        session.add_all([DuplicateScan(workspace_id=workspace, status="failed", error="qzalice scan failed",
                                       requested_by="alice@acme.test", created_at=now, finished_at=now),
                         DuplicateScan(workspace_id=workspace, active_workspace_id=workspace, status="running",
                                       job_id=scan_job.id, contacts_done=1, contacts_total=2,
                                       requested_by="alice@acme.test", created_at=now, started_at=now)])
        session.flush()
    _seed_through_the_api(client, actors)
    return AliceData(workspace, _values_of(container.db, workspace), _markers(actors, container))


def _seed_through_the_api(client: TestClient, actors: Actors) -> None:
    """Rows as the API writes them (identities, outbox, audit), where the route exists."""
    headers = actors.alice.headers(Scope.ADMIN)
    for path, body in (("/api/v1/contacts", {"email": "q@qzalice.com", "first_name": "Qzalice"}),
                       ("/api/v1/companies", {"name": "Qzalice Subsidiary"})):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code in {201, 404, 405}, (path, response.text)


def _values_of(db: Database, workspace_id: int) -> dict[str, list[Any]]:
    tables: dict[str, Any] = {"contact": Contact, "company": Company, "field": CustomField, "import": ContactImport,
              "duplicate": DuplicateCandidate, "event": Event, "merge": ContactMerge, "identity": ContactIdentity,
              "import_error": ImportRowError, "audit": AuditEntry, "job": Job, "duplicate_scan": DuplicateScan}
    with db.read() as session:
        values: dict[str, list[Any]] = {
            name: list(session.scalars(select(model.id).where(model.workspace_id == workspace_id)
                                       .order_by(model.id)))
            for name, model in tables.items()
        }
        values["user"] = list(session.scalars(select(Membership.user_id).where(
            Membership.workspace_id == workspace_id).order_by(Membership.user_id)))
        values["api_key"] = list(session.scalars(select(ApiKey.id).where(ApiKey.workspace_id == workspace_id)
                                                 .order_by(ApiKey.id)))
        values["tag"] = list(session.scalars(select(ContactTag.tag).where(ContactTag.workspace_id == workspace_id)))
        values["field_key"] = list(session.scalars(select(CustomField.key).where(
            CustomField.workspace_id == workspace_id)))
    return values


def _markers(actors: Actors, container: Container) -> list[str]:
    keys = container.access.list_api_keys(actors.alice.principal)
    return [MARKER, "acme.test", *(key.prefix for key in keys), *actors.alice.keys.values()]


# ---- what the database holds -----------------------------------------------------------------


def _tables() -> list[Table]:
    return list(schema_metadata().sorted_tables)


def _rows(session: Session, table: Table, *where: Any, ignore: frozenset[str] = frozenset()) -> list[tuple[str, ...]]:
    columns = [c for c in table.columns if c.name not in ignore]
    query = select(*columns).where(*where).order_by(*(table.primary_key.columns or columns))
    return [tuple(repr(value) for value in row) for row in session.execute(query)]


def workspace_snapshot(db: Database, workspace_id: int) -> dict[str, list[tuple[str, ...]]]:
    """Every row that belongs to the workspace: tables with workspace_id, its members' users, itself."""
    snapshot: dict[str, list[tuple[str, ...]]] = {}
    with db.read() as session:
        for table in _tables():
            if "workspace_id" in table.c:
                snapshot[table.name] = _rows(session, table, table.c.workspace_id == workspace_id)
        members = select(Membership.user_id).where(Membership.workspace_id == workspace_id)
        snapshot["users"] = _rows(session, User.__table__, User.__table__.c.id.in_(members))  # type: ignore[arg-type]
        snapshot["workspaces"] = _rows(session, schema_metadata().tables["workspaces"],
                                       schema_metadata().tables["workspaces"].c.id == workspace_id)
    return snapshot


def database_snapshot(db: Database) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, but the key's `last_used_at` (authenticating a key stamps it)."""
    with db.read() as session:
        return {table.name: _rows(session, table, ignore=frozenset({"last_used_at"}) if table.name == "api_keys"
                                  else frozenset()) for table in _tables()}


# References the application keeps without a foreign key (on the hottest tables, see Contact and Event), checked
# here as foreign keys are: (table, column) → the table whose id it holds.
UNENFORCED_REFERENCES = {("contacts", "company_id"): "companies", ("contact_tags", "contact_id"): "contacts",
                         ("events", "contact_id"): "contacts"}
# Columns named like a reference that are not checked: identifiers from outside (Segment's, a client's), ids in a
# record of what happened (kept after their row goes), and references to rows that belong to no workspace.
NOT_REFERENCES = {("contacts", "external_id"), ("companies", "external_id"), ("events", "message_id"),
                  ("events", "user_id"), ("events", "anonymous_id"), ("events", "group_id"), ("events", "previous_id"),
                  ("audit_log", "actor_id"), ("audit_log", "target_id"), ("contact_merges", "survivor_id"),
                  ("contact_merges", "merged_contact_id"), ("api_keys", "created_by_user_id"),
                  ("duplicate_scans", "active_workspace_id"), ("duplicate_scans", "job_id")}


def _references() -> list[tuple[Table, Column[Any], Table]]:
    """Each reference of a workspace's row to another row: (table, column, the table it points into)."""
    tables = {table.name: table for table in _tables()}
    found = [(table, fk.parent, fk.column.table) for table in tables.values() for fk in table.foreign_keys]
    found.extend((tables[name], tables[name].c[column], tables[target])
                 for (name, column), target in UNENFORCED_REFERENCES.items())
    return found


def cross_workspace_references(db: Database) -> list[str]:
    """Rows whose reference (foreign key or `UNENFORCED_REFERENCES`) points at a row of another workspace."""
    found: list[str] = []
    with db.read() as session:
        for table, column, target in _references():
            if target is table or "workspace_id" not in table.c or "workspace_id" not in target.c \
                    or column.name == "workspace_id":
                continue
            query = (select(column).join(target, column == target.c.id)
                     .where(table.c.workspace_id != target.c.workspace_id).limit(1))
            if session.execute(query).first() is not None:
                found.append(f"{table.name}.{column.name} → {target.name} of another workspace")
    return found


def test_every_reference_is_checked() -> None:
    """A column named like a reference is a foreign key, or listed: dropping a foreign key cannot drop its check."""
    checked = {(table.name, column.name) for table, column, _target in _references()}
    unchecked = [f"{table.name}.{column.name}" for table in _tables() if "workspace_id" in table.c
                 for column in table.c
                 if column.name.endswith("_id") and column.name != "workspace_id"
                 and (table.name, column.name) not in checked | NOT_REFERENCES]
    assert unchecked == []


# ---- building requests -------------------------------------------------------------------------


def _resource_of(name: str, previous_segment: str | None) -> str | None:
    """Which of alice's values a parameter or property name stands for, if we know."""
    name = name.lower().replace("-", "_")
    base = re.sub(r"_(id|ids|key|keys)$", "", name)
    if name not in GENERIC_NAMES and base in RESOURCES:
        return RESOURCES[base]
    if name not in GENERIC_NAMES and base.endswith("s") and base[:-1] in RESOURCES:
        return RESOURCES[base[:-1]]
    if previous_segment is None:
        return None
    word = RESOURCES.get(previous_segment.lower().replace("-", "_"))
    if word is None:
        return None
    if name in {"key", "slug", "name"} and word == "field":
        return "field_key"
    return word


@dataclass
class RequestPlan:
    path: str
    query: dict[str, Any]
    bodies: list[Any]
    aimed_at_alice: bool  # a path parameter holds one of alice's values we know the meaning of
    guessed: list[str] = field(default_factory=list)  # parameters we could only guess


class RequestBuilder:
    def __init__(self, spec: dict[str, Any], alice: AliceData) -> None:
        self.spec = spec
        self.alice = alice

    def plans(self, endpoint: Endpoint) -> Iterator[RequestPlan]:
        """Requests aimed at alice's oldest and newest row of each kind (her owner and her analyst, say)."""
        segments = endpoint.path.strip("/").split("/")
        known: dict[str, list[Any]] = {}
        unknown: list[str] = []
        for index, segment in enumerate(segments):
            match = re.fullmatch(r"\{(\w+)\}", segment)
            if not match:
                continue
            previous = segments[index - 1] if index and not segments[index - 1].startswith("{") else None
            resource = _resource_of(match.group(1), previous)
            if resource is not None and self.alice.values.get(resource):
                known[match.group(1)] = self.alice.values[resource]
            else:
                unknown.append(match.group(1))
        query, bodies = self._query(endpoint), self._bodies(endpoint)
        seen: set[str] = set()
        for pick in (0, -1):
            for guess in self.alice.every_value() if unknown else [None]:
                path = endpoint.path
                for name, values in known.items():
                    path = path.replace("{" + name + "}", str(values[pick]))
                for name in unknown:
                    path = path.replace("{" + name + "}", str(guess))
                if path not in seen:
                    seen.add(path)
                    yield RequestPlan(path, query, bodies, aimed_at_alice=bool(known), guessed=unknown)

    def _query(self, endpoint: Endpoint) -> dict[str, Any]:
        query: dict[str, Any] = {}
        for parameter in (endpoint.operation or {}).get("parameters", []):
            if parameter.get("in") != "query":
                continue
            name = parameter["name"]
            resource = _resource_of(name, None)
            if resource and self.alice.values.get(resource):
                query[name] = self.alice.values[resource][0]
            elif parameter.get("required"):
                query[name] = self._example(parameter.get("schema", {}), name, depth=0, mode="minimal")
        return query

    def _bodies(self, endpoint: Endpoint) -> list[Any]:
        """Every property; only the required ones; the required ones plus those naming alice's rows."""
        content = ((endpoint.operation or {}).get("requestBody") or {}).get("content", {})
        schema = (content.get("application/json") or {}).get("schema")
        if schema is None and endpoint.path.startswith("/v1/"):
            return [self._segment_message(endpoint.path.rsplit("/", 1)[-1]), {}]
        if schema is None:
            return [{}] if endpoint.method in {"POST", "PUT", "PATCH"} else [None]
        bodies: list[Any] = []
        for mode in ("full", "minimal", "ids"):
            body = self._example(schema, "", depth=0, mode=mode)
            if body not in bodies:
                bodies.append(body)
        return bodies

    def _segment_message(self, kind: str) -> dict[str, Any]:
        """A Segment call naming alice's contact, visitor and company; it must land in the caller's workspace."""
        message = {"userId": "usr-a1", "anonymousId": "anon-a1", "previousId": "usr-a2", "groupId": "grp-a1",
                   "messageId": "msg-a1", "event": "Probe Event", "name": "Probe Page",
                   "traits": {"plan": "probe"}, "properties": {"plan": "probe"}}
        if kind == "batch":
            return {"batch": [{**message, "type": "identify", "messageId": "probe-1"}, {**message, "type": "track"}]}
        return message

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.spec["components"]["schemas"][name]
        return schema

    def _example(self, schema: dict[str, Any], name: str, *, depth: int, mode: str) -> Any:
        schema = self._resolve(schema)
        resource = _resource_of(name, None) if name else None
        for option_key in ("anyOf", "oneOf", "allOf"):
            if option_key in schema:
                options = [self._resolve(o) for o in schema[option_key] if self._resolve(o).get("type") != "null"]
                if options:
                    return self._example(options[0], name, depth=depth, mode=mode)
                return None
        kind = schema.get("type")
        if resource and self.alice.values.get(resource) and kind in {"integer", "string", "array"}:
            values = self.alice.values[resource]
            return values[:2] if kind == "array" else values[0]
        if "enum" in schema:
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        if kind == "object" or "properties" in schema:
            if depth > 3:
                return {}
            required = set(schema.get("required", []))
            return {prop: self._example(sub, prop, depth=depth + 1, mode=mode)
                    for prop, sub in schema.get("properties", {}).items()
                    if mode == "full" or prop in required or (mode == "ids" and _resource_of(prop, None))}
        if kind == "array":
            return [self._example(schema.get("items", {}), name, depth=depth + 1, mode=mode)]
        if kind == "integer":
            return max(int(schema.get("minimum", 1)), 1)
        if kind == "number":
            return float(schema.get("minimum", 1))
        if kind == "boolean":
            return True
        if kind == "string":
            return _string_example(schema, name)
        return "probe"


STRINGS_BY_NAME = {"email": "probe@example.com", "phone": "+14155550100", "domain": "probe.example.com",
                   "url": "https://probe.example.com/", "website": "https://probe.example.com/", "timezone": "UTC",
                   "country": "US", "locale": "en", "language": "en", "key": "probe_key", "currency": "USD"}


def _string_example(schema: dict[str, Any], name: str) -> str:
    formats = {"email": "probe@example.com", "date-time": "2024-01-02T03:04:05Z", "date": "2024-01-02",
               "uri": "https://example.com/probe", "uuid": "00000000-0000-4000-8000-000000000000"}
    if schema.get("format") in formats:
        return formats[schema["format"]]
    if name.lower() in STRINGS_BY_NAME:
        return STRINGS_BY_NAME[name.lower()]
    value = "probe-value"
    minimum, maximum = int(schema.get("minLength", 0)), int(schema.get("maxLength", 100))
    value = (value * (minimum // len(value) + 1))[:max(minimum, min(len(value), maximum))]
    return value


# ---- checks ---------------------------------------------------------------------------------


def _list_ids(payload: Any) -> set[int]:
    """The ids of the items of a list answer ({"data": [...]}, {"items": [...]} or a bare list)."""
    items = payload
    if isinstance(payload, dict):
        items = next((v for k, v in payload.items() if k in {"data", "items", "results"} and isinstance(v, list)),
                     [])
    if not isinstance(items, list):
        return set()
    return {item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), int)}


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@dataclass
class Probe:
    client: TestClient
    headers: dict[str, str]
    requests: int = 0
    failures: list[str] = field(default_factory=list)

    def call(self, method: str, plan: RequestPlan, body: Any) -> Any:
        self.requests += 1
        kwargs: dict[str, Any] = {"headers": self.headers, "params": plan.query}
        if body is not None:
            kwargs["json"] = body
        return self.client.request(method, plan.path, **kwargs)


@pytest.fixture
def alice_data(container: Container, actors: Actors, client: TestClient) -> AliceData:
    return seed_alice(container, actors, client)


@pytest.fixture
def probe_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# ---- the proofs -------------------------------------------------------------------------------


def test_the_route_walk_covers_every_api_router(app: FastAPI) -> None:
    """The walk sees every route of every router module (so a new router is probed the day it lands)."""
    endpoints = {(e.method, e.path) for e in api_endpoints(app)}
    assert {("GET", "/api/v1/me"), ("GET", "/api/v1/users"), ("POST", "/api/v1/users"),
            ("PATCH", "/api/v1/users/{user_id}"), ("DELETE", "/api/v1/users/{user_id}"),
            ("POST", "/api/v1/api-keys"), ("DELETE", "/api/v1/api-keys/{key_id}"),
            ("GET", "/api/v1/audit-log")} <= endpoints
    probed_paths = {path for _method, path in endpoints}
    missing = []
    for module_info in pkgutil.iter_modules(cadenza.api.routers.__path__):
        if module_info.name == "ops":  # liveness and metrics: no workspace data
            continue
        router = getattr(import_module(f"cadenza.api.routers.{module_info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
            if not any(prefix.rstrip("/") + path in probed_paths for prefix in API_PREFIXES):
                missing.append(f"{module_info.name}: {route.path}")
    assert missing == []
    contacts_router = import_module("cadenza.api.routers.contacts").router
    assert len([p for p in probed_paths if p.startswith("/api/v1/contacts")]) >= len(
        {r.path for r in contacts_router.routes})


def test_no_route_lets_charlie_read_or_change_alices_data(
        app: FastAPI, container: Container, actors: Actors, alice_data: AliceData, probe_client: TestClient) -> None:
    endpoints = api_endpoints(app)
    builder = RequestBuilder(app.openapi(), alice_data)
    alice = Probe(probe_client, actors.alice.headers(Scope.ADMIN))
    charlie = Probe(probe_client, actors.charlie.headers(Scope.ADMIN))

    # What alice herself sees on each list: the positive control that the data checks can fail.
    alice_sees: dict[str, set[int]] = {}
    for endpoint in endpoints:
        if endpoint.method == "GET" and "{" not in endpoint.path:
            answer = alice.call("GET", RequestPlan(endpoint.path, {}, [None], False), None)
            alice_sees[endpoint.path] = _list_ids(_json(answer)) if answer.status_code == 200 else set()
    for path in ("/api/v1/users", "/api/v1/api-keys", "/api/v1/audit-log", "/api/v1/contacts",
                 "/api/v1/companies"):
        if path in alice_sees:
            assert alice_sees[path], f"alice sees nothing on {path}: the check would be vacuous"

    before = workspace_snapshot(container.db, alice_data.workspace_id)
    for endpoint in endpoints:
        for plan in builder.plans(endpoint):
            for body in plan.bodies:
                answer = charlie.call(endpoint.method, plan, body)
                where = f"{endpoint.method} {plan.path} {json.dumps(body)[:200]} → {answer.status_code}"
                if answer.status_code >= 500:
                    charlie.failures.append(f"{where}: server error {answer.text[:200]}")
                elif plan.aimed_at_alice and answer.status_code not in REFUSED:
                    charlie.failures.append(f"{where}: answered a request aimed at alice's data")
                leaked = [m for m in alice_data.markers if m.lower() in answer.text.lower()]
                if leaked:
                    charlie.failures.append(f"{where}: the answer holds alice's {leaked[0]!r}")
                shared = _list_ids(_json(answer)) & alice_sees.get(endpoint.path, set())
                if endpoint.method == "GET" and shared:
                    charlie.failures.append(f"{where}: lists alice's items {sorted(shared)}")

    assert not charlie.failures, "\n".join(charlie.failures)
    after = workspace_snapshot(container.db, alice_data.workspace_id)
    assert {t: rows for t, rows in after.items() if rows != before[t]} == {}
    assert sum(len(rows) for rows in before.values()) >= 20
    assert cross_workspace_references(container.db) == []
    assert charlie.requests >= len(endpoints)


def _refused_changes(probe: Probe, builder: RequestBuilder, endpoints: list[Endpoint],
                     expected: dict[str, set[int]]) -> None:
    for endpoint in endpoints:
        if endpoint.method == "GET" or (endpoint.method, endpoint.path) in READ_ONLY_CHANGES:
            continue
        allowed = expected["/v1/" if endpoint.path.startswith("/v1/") else "/api/v1/"]
        for plan in builder.plans(endpoint):
            for body in plan.bodies:
                answer = probe.call(endpoint.method, plan, body)
                if answer.status_code not in allowed:
                    probe.failures.append(f"{endpoint.method} {plan.path} → {answer.status_code} {answer.text[:200]}")


def test_an_analyst_session_changes_nothing(
        app: FastAPI, container: Container, actors: Actors, alice_data: AliceData, probe_client: TestClient) -> None:
    container.access.create_user(actors.alice.principal, "ann@example.com", "analyst password", Role.ANALYST)
    token, _ = container.access.sign_in("ann@example.com", "analyst password")
    probe = Probe(probe_client, {"Cookie": f"cadenza_session={token}"})
    before = database_snapshot(container.db)

    # Ingest takes keys only (Authorization, or a batch's writeKey): a session there gets 401, or 400 for a
    # batch without a writeKey.
    _refused_changes(probe, RequestBuilder(app.openapi(), alice_data), api_endpoints(app),
                     {"/api/v1/": {403}, "/v1/": {400, 401, 403}})

    assert not probe.failures, "\n".join(probe.failures)
    assert probe.requests > 10
    assert database_snapshot(container.db) == before


def test_a_read_key_changes_nothing(
        app: FastAPI, container: Container, actors: Actors, alice_data: AliceData, probe_client: TestClient) -> None:
    probe = Probe(probe_client, actors.alice.headers(Scope.READ))
    before = database_snapshot(container.db)

    _refused_changes(probe, RequestBuilder(app.openapi(), alice_data), api_endpoints(app),
                     {"/api/v1/": {403}, "/v1/": {403}})

    assert not probe.failures, "\n".join(probe.failures)
    assert probe.requests > 10
    assert database_snapshot(container.db) == before


def test_an_ingest_key_reaches_nothing_under_api_v1_but_me(
        app: FastAPI, container: Container, actors: Actors, alice_data: AliceData, probe_client: TestClient) -> None:
    probe = Probe(probe_client, actors.alice.headers(Scope.INGEST))
    builder = RequestBuilder(app.openapi(), alice_data)
    before = database_snapshot(container.db)
    for endpoint in api_endpoints(app):
        if not endpoint.path.startswith("/api/v1/") or endpoint.path == "/api/v1/me":
            continue
        for plan in builder.plans(endpoint):
            answer = probe.call(endpoint.method, plan, plan.bodies[0])
            if answer.status_code != 403:
                probe.failures.append(f"{endpoint.method} {plan.path} → {answer.status_code}")
    assert not probe.failures, "\n".join(probe.failures)
    assert database_snapshot(container.db) == before


def test_a_write_key_cannot_manage_users_keys_or_read_the_audit_log(
        app: FastAPI, container: Container, actors: Actors, alice_data: AliceData, probe_client: TestClient) -> None:
    probe = Probe(probe_client, actors.alice.headers(Scope.WRITE))
    builder = RequestBuilder(app.openapi(), alice_data)
    admin_paths = ("/api/v1/users", "/api/v1/api-keys", "/api/v1/audit-log")
    endpoints = [e for e in api_endpoints(app) if e.path.startswith(admin_paths)]
    before = database_snapshot(container.db)
    for endpoint in endpoints:
        for plan in builder.plans(endpoint):
            for body in plan.bodies:
                answer = probe.call(endpoint.method, plan, body)
                if answer.status_code != 403:
                    probe.failures.append(f"{endpoint.method} {plan.path} → {answer.status_code}")
    assert not probe.failures, "\n".join(probe.failures)
    assert len(endpoints) >= 9
    assert database_snapshot(container.db) == before


def test_the_probe_itself_catches_a_leak(container: Container, actors: Actors, alice_data: AliceData) -> None:
    """The snapshot and the reference check fail when a row of alice's changes or is pointed at."""
    before = workspace_snapshot(container.db, alice_data.workspace_id)
    contact_id = alice_data.values["contact"][0]
    with container.db.transaction() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        contact.first_name = "Changed"
        session.add(Contact(workspace_id=actors.charlie.workspace_id, email="x@example.com",
                            company_id=alice_data.values["company"][0], attributes={},
                            created_at=container.clock.now(), updated_at=container.clock.now()))
    changed = {t for t, rows in workspace_snapshot(container.db, alice_data.workspace_id).items() if rows != before[t]}
    assert changed == {"contacts"}
    assert cross_workspace_references(container.db) == ["contacts.company_id → companies of another workspace"]
