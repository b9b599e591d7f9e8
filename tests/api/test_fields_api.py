"""REST /api/v1/fields over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cadenza.auth import Scope
from cadenza.bootstrap import Container
from tests.conftest import Actors
from tests.contacts.factories import counts, make_contact, make_field

URL = "/api/v1/fields"


def test_create_list_get_patch_delete(client: TestClient, actors: Actors, container: Container) -> None:
    headers = actors.alice.headers(Scope.WRITE)
    created = client.post(URL, headers=headers, json={"key": "plan", "label": "Plan", "type": "enum",
                                                      "options": ["free", "pro"], "is_required": False})
    assert created.status_code == 201
    body = created.json()
    assert body == {"id": body["id"], "entity": "contact", "key": "plan", "label": "Plan", "type": "enum",
                    "options": ["free", "pro"], "is_required": False, "is_personal": False,
                    "created_at": "2026-01-01T12:00:00Z"}
    assert client.get(URL, headers=headers).json() == {"data": [body]}
    assert client.get(URL, headers=headers, params={"entity": "company"}).json() == {"data": []}
    assert client.get(f"{URL}/{body['id']}", headers=headers).json() == body

    patched = client.patch(f"{URL}/{body['id']}", headers=headers, json={"options": ["free", "pro", "team"]})
    assert patched.json()["options"] == ["free", "pro", "team"]
    type_change = client.patch(f"{URL}/{body['id']}", headers=headers, json={"type": "text"})
    assert (type_change.status_code, type_change.json()["type"]) == (
        409, "https://cadenza.dev/problems/field-type-change")

    contact = make_contact(container, actors.alice.principal, attributes={"plan": "team"})
    assert client.delete(f"{URL}/{body['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/contacts/{contact.id}", headers=headers).json()["attributes"] == {"plan": "team"}


def test_bad_definitions_are_422_and_duplicates_409(client: TestClient, actors: Actors, container: Container) -> None:
    headers = actors.alice.headers(Scope.WRITE)
    make_field(container, actors.alice.principal, "plan")
    before = counts(container)
    for body, field in [
        ({"key": "Plan", "label": "x", "type": "text"}, "key"),
        ({"key": "size", "label": "x", "type": "colour"}, "type"),
        ({"key": "size", "label": "x", "type": "enum"}, "options"),
        ({"key": "size", "label": "x", "type": "text", "entity": "deal"}, "entity"),
        ({"key": "size", "label": "x", "type": "text", "unknown": 1}, "unknown"),
        ({"key": "email", "label": "x", "type": "text"}, "key"),
    ]:
        response = client.post(URL, headers=headers, json=body)
        assert response.status_code == 422, body
        assert [e["field"] for e in response.json()["errors"]] == [field], body
    assert client.post(URL, headers=headers, json={"key": "plan", "label": "x", "type": "text"}).status_code == 409
    assert counts(container) == before


def test_contact_values_are_checked_against_the_fields(client: TestClient, actors: Actors,
                                                       container: Container) -> None:
    alice = actors.alice.principal
    make_field(container, alice, "seats", "number", is_required=True)
    make_field(container, alice, "renewal", "date")
    headers = actors.alice.headers(Scope.WRITE)
    response = client.post("/api/v1/contacts", headers=headers,
                           json={"email": "a@example.com", "attributes": {"renewal": "someday"}})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "attributes.renewal", "message": "must be a date like 2026-01-31, got 'someday'"},
        {"field": "attributes.seats", "message": "is required"}]
    ok = client.post("/api/v1/contacts", headers=headers,
                     json={"email": "a@example.com", "attributes": {"renewal": "2026-02-01", "seats": "12"}})
    assert (ok.status_code, ok.json()["attributes"]) == (201, {"renewal": "2026-02-01", "seats": 12})


def test_other_workspaces_get_404_and_readers_403(client: TestClient, actors: Actors, container: Container) -> None:
    plan = make_field(container, actors.alice.principal, "plan")
    charlie = actors.charlie.headers(Scope.WRITE)
    reader = actors.alice.headers(Scope.READ)
    before = counts(container)
    assert client.get(URL, headers=charlie).json() == {"data": []}
    for method, body in (("GET", None), ("PATCH", {"label": "X"}), ("DELETE", None)):
        assert client.request(method, f"{URL}/{plan.id}", headers=charlie, json=body).status_code == 404
    assert client.post(URL, headers=reader, json={"key": "x", "label": "x", "type": "text"}).status_code == 403
    assert client.patch(f"{URL}/{plan.id}", headers=reader, json={"label": "X"}).status_code == 403
    assert client.delete(f"{URL}/{plan.id}", headers=reader).status_code == 403
    assert counts(container) == before
