"""REST /api/v1/contacts over HTTP: status codes, problem+json, filters, pagination, who may do what."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from cadenza.auth import Scope
from cadenza.bootstrap import Container
from tests.conftest import Actors
from tests.contacts.factories import audit_entries, contact_facts, counts, make_contact, make_field

URL = "/api/v1/contacts"
PROBLEM = "application/problem+json"


def test_create_answers_201_with_the_contact(client: TestClient, actors: Actors, container: Container) -> None:
    make_field(container, actors.alice.principal, "plan", "enum", options=["free", "pro"])
    response = client.post(URL, headers=actors.alice.headers(Scope.WRITE), json={
        "email": " Ada@Example.COM", "phone": "+44 20 7946 0958", "first_name": "Ada", "tags": ["vip"],
        "attributes": {"plan": "pro"}})
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"], "email": "ada@example.com", "phone": "+442079460958", "first_name": "Ada",
        "last_name": None, "external_id": None, "timezone": None, "company_id": None, "company": None,
        "tags": ["vip"], "attributes": {"plan": "pro"}, "created_at": "2026-01-01T12:00:00Z",
        "updated_at": "2026-01-01T12:00:00Z", "last_seen_at": None,
    }
    assert client.get(f"{URL}/{body['id']}", headers=actors.alice.headers(Scope.READ)).json() == body


def test_unknown_keys_and_bad_values_are_problems_naming_the_field(client: TestClient, actors: Actors,
                                                                    container: Container) -> None:
    headers = actors.alice.headers(Scope.WRITE)
    before = counts(container)
    unknown = client.post(URL, headers=headers, json={"email": "a@example.com", "favourite_colour": "red"})
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == PROBLEM
    assert [e["field"] for e in unknown.json()["errors"]] == ["favourite_colour"]

    bad_email = client.post(URL, headers=headers, json={"email": "nobody"})
    assert bad_email.status_code == 422
    assert bad_email.json()["errors"][0]["field"] == "email"
    assert bad_email.json()["type"] == "https://cadenza.dev/problems/validation-failed"

    bad_attribute = client.post(URL, headers=headers, json={"email": "a@example.com", "attributes": {"x": 1}})
    assert bad_attribute.status_code == 422
    assert bad_attribute.json()["errors"] == [{"field": "attributes.x",
                                               "message": "is not a custom field of this workspace"}]
    nul = client.post(URL, headers=headers, json={"first_name": "A\u0000da"})
    assert nul.status_code == 422
    assert counts(container) == before


def test_a_duplicate_email_is_a_409(client: TestClient, actors: Actors, container: Container) -> None:
    first = make_contact(container, actors.alice.principal, email="ada@example.com")
    response = client.post(URL, headers=actors.alice.headers(Scope.WRITE), json={"email": "ADA@example.com"})
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["contact_id"] == first.id


def test_upsert_answers_201_then_200(client: TestClient, actors: Actors) -> None:
    headers = actors.alice.headers(Scope.WRITE)
    created = client.post(f"{URL}/upsert", headers=headers, json={"external_id": "u-1", "first_name": "Ada"})
    assert created.status_code == 201
    updated = client.post(f"{URL}/upsert", headers=headers, json={"external_id": "u-1", "email": "ada@example.com"})
    assert updated.status_code == 200
    assert (updated.json()["id"], updated.json()["first_name"], updated.json()["email"]) == (
        created.json()["id"], "Ada", "ada@example.com")


def test_patch_merges_and_delete_answers_204(client: TestClient, actors: Actors, container: Container) -> None:
    alice = actors.alice.principal
    make_field(container, alice, "plan", "text")
    make_field(container, alice, "seats", "number")
    contact = make_contact(container, alice, first_name="Ada", attributes={"plan": "pro", "seats": 3})
    headers = actors.alice.headers(Scope.WRITE)

    patched = client.patch(f"{URL}/{contact.id}", headers=headers,
                           json={"last_name": "Lovelace", "attributes": {"seats": None}})
    assert patched.status_code == 200
    assert (patched.json()["first_name"], patched.json()["last_name"], patched.json()["attributes"]) == (
        "Ada", "Lovelace", {"plan": "pro"})

    deleted = client.delete(f"{URL}/{contact.id}", headers=headers)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert client.get(f"{URL}/{contact.id}", headers=headers).status_code == 404
    assert [a.action for a in audit_entries(container) if a.target_type == "contact"] == [
        "contact.created", "contact.updated", "contact.deleted"]
    assert [p["fields"] for _ws, p in contact_facts(container)] == [
        ["attributes.plan", "attributes.seats", "created", "email", "first_name"], ["attributes.seats", "last_name"],
        ["deleted"]]


def test_tags_endpoints(client: TestClient, actors: Actors, container: Container) -> None:
    contact = make_contact(container, actors.alice.principal)
    headers = actors.alice.headers(Scope.WRITE)
    added = client.post(f"{URL}/{contact.id}/tags", headers=headers, json={"tags": ["vip", " beta "]})
    assert (added.status_code, added.json()["tags"]) == (200, ["beta", "vip"])
    assert client.delete(f"{URL}/{contact.id}/tags/vip", headers=headers).status_code == 204
    assert client.get(f"{URL}/{contact.id}", headers=headers).json()["tags"] == ["beta"]
    too_long = client.post(f"{URL}/{contact.id}/tags", headers=headers, json={"tags": ["x" * 101]})
    assert too_long.status_code == 422
    assert client.post(f"{URL}/{contact.id}/tags", headers=headers, json={"tags": []}).status_code == 422


def test_list_with_filters_and_pages(client: TestClient, actors: Actors, container: Container) -> None:
    alice = actors.alice.principal
    make_field(container, alice, "plan", "enum", options=["free", "pro"])
    made = [make_contact(container, alice, first_name=f"Ada{n}", tags=["vip"] if n % 2 else [],
                         attributes={"plan": "pro" if n < 4 else "free"}).id for n in range(7)]
    headers = actors.alice.headers(Scope.READ)

    def get(**params: Any) -> dict[str, Any]:
        response = client.get(URL, headers=headers, params=params)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    assert [c["id"] for c in get(tag="vip", **{"attr.plan": "pro"})["data"]] == [made[3], made[1]]
    assert [c["id"] for c in get(q="ada6")["data"]] == [made[6]]
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = get(**params)
        seen.extend(c["id"] for c in page["data"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == list(reversed(made))

    for bad in ({"limit": 0}, {"limit": 501}, {"cursor": "nonsense"}, {"attr.x\"": "1"},
                {"created_after": "yesterday"}):
        response = client.get(URL, headers=headers, params=bad)
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == PROBLEM


def test_without_a_key_401_and_with_an_ingest_key_403(client: TestClient, actors: Actors) -> None:
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=actors.alice.headers(Scope.INGEST)).status_code == 403


def test_a_read_key_reads_but_cannot_write(client: TestClient, actors: Actors, container: Container) -> None:
    contact = make_contact(container, actors.alice.principal, tags=["vip"])
    headers = actors.alice.headers(Scope.READ)
    before = counts(container)
    assert client.get(f"{URL}/{contact.id}", headers=headers).status_code == 200
    for method, path, body in [
        ("POST", URL, {"email": "new@example.com"}),
        ("POST", f"{URL}/upsert", {"email": "new@example.com"}),
        ("PATCH", f"{URL}/{contact.id}", {"first_name": "Eve"}),
        ("DELETE", f"{URL}/{contact.id}", None),
        ("POST", f"{URL}/{contact.id}/tags", {"tags": ["x"]}),
        ("DELETE", f"{URL}/{contact.id}/tags/vip", None),
    ]:
        response = client.request(method, path, headers=headers, json=body)
        assert response.status_code == 403, (method, path)
        assert response.headers["content-type"] == PROBLEM
    assert counts(container) == before


def test_another_workspace_gets_404_and_changes_nothing(client: TestClient, actors: Actors,
                                                        container: Container) -> None:
    contact = make_contact(container, actors.alice.principal, first_name="Ada", tags=["vip"])
    headers = actors.charlie.headers(Scope.WRITE)
    before = counts(container)
    for method, path, body in [
        ("GET", f"{URL}/{contact.id}", None),
        ("PATCH", f"{URL}/{contact.id}", {"first_name": "Eve"}),
        ("DELETE", f"{URL}/{contact.id}", None),
        ("POST", f"{URL}/{contact.id}/tags", {"tags": ["x"]}),
        ("DELETE", f"{URL}/{contact.id}/tags/vip", None),
    ]:
        response = client.request(method, path, headers=headers, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json()["detail"] == f"No contact {contact.id} in this workspace."
    assert client.get(URL, headers=headers).json() == {"data": [], "next_cursor": None}
    assert counts(container) == before
    assert container.contacts.get_contact(actors.alice.principal, contact.id).first_name == "Ada"


def test_an_idempotency_key_creates_once(client: TestClient, actors: Actors, container: Container) -> None:
    headers = {**actors.alice.headers(Scope.WRITE), "Idempotency-Key": "create-ada"}
    first = client.post(URL, headers=headers, json={"email": "ada@example.com"})
    again = client.post(URL, headers=headers, json={"email": "ada@example.com"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert counts(container)["contacts"] == 1


def test_contacts_export_as_csv_with_the_lists_filters(client: TestClient, actors: Actors,
                                                       container: Container) -> None:
    alice = actors.alice.principal
    make_contact(container, alice, email="ada@example.com", tags=["vip"])
    make_contact(container, alice, email="grace@example.com")
    make_contact(container, actors.charlie.principal, email="charlie-only@example.com", tags=["vip"])
    headers = actors.alice.headers(Scope.READ)

    everyone = client.get("/api/v1/contacts/export.csv", headers=headers)
    vip = client.get("/api/v1/contacts/export.csv", params={"tag": "vip"}, headers=headers)

    assert everyone.status_code == 200, everyone.text
    assert everyone.headers["content-type"] == "text/csv; charset=utf-8"
    assert everyone.headers["content-disposition"] == 'attachment; filename="contacts.csv"'
    assert everyone.headers["cache-control"] == "no-store"
    lines = everyone.text.splitlines()
    assert lines[0].startswith("id,email,first_name,last_name,phone,company,external_id,tags,timezone")
    assert [line.split(",")[1] for line in lines[1:]] == ["grace@example.com", "ada@example.com"]
    assert [line.split(",")[1] for line in vip.text.splitlines()[1:]] == ["ada@example.com"]
    bad = client.get("/api/v1/contacts/export.csv", params={"attr.not a key!": "x"}, headers=headers)
    assert bad.status_code in (400, 422) and bad.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/contacts/export.csv", headers=actors.alice.headers(Scope.INGEST)).status_code == 403
