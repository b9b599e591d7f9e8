"""REST /api/v1/companies over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cadenza.auth import Scope
from cadenza.bootstrap import Container
from tests.conftest import Actors
from tests.contacts.factories import counts, make_company, make_contact

URL = "/api/v1/companies"


def test_create_get_patch_delete(client: TestClient, actors: Actors, container: Container) -> None:
    headers = actors.alice.headers(Scope.WRITE)
    created = client.post(URL, headers=headers, json={"name": "Acme", "domain": "https://www.acme.com/"})
    assert created.status_code == 201
    body = created.json()
    assert body == {"id": body["id"], "name": "Acme", "domain": "acme.com", "external_id": None, "attributes": {},
                    "created_at": "2026-01-01T12:00:00Z", "updated_at": "2026-01-01T12:00:00Z"}
    assert client.get(f"{URL}/{body['id']}", headers=headers).json() == body
    patched = client.patch(f"{URL}/{body['id']}", headers=headers, json={"external_id": "g-1"})
    assert (patched.status_code, patched.json()["external_id"]) == (200, "g-1")
    assert client.post(URL, headers=headers, json={"name": "Other", "domain": "acme.com"}).status_code == 409
    assert client.post(URL, headers=headers, json={"name": "Other", "domain": "acme"}).status_code == 422
    assert client.post(URL, headers=headers, json={"name": "Other", "size": 3}).status_code == 422
    assert client.delete(f"{URL}/{body['id']}", headers=headers).status_code == 204
    assert client.get(f"{URL}/{body['id']}", headers=headers).status_code == 404


def test_upsert_answers_201_then_200(client: TestClient, actors: Actors) -> None:
    headers = actors.alice.headers(Scope.WRITE)
    created = client.post(f"{URL}/upsert", headers=headers, json={"domain": "acme.com", "name": "Acme"})
    updated = client.post(f"{URL}/upsert", headers=headers, json={"domain": "ACME.com", "name": "Acme Inc"})
    assert (created.status_code, updated.status_code) == (201, 200)
    assert (updated.json()["id"], updated.json()["name"]) == (created.json()["id"], "Acme Inc")
    assert client.post(f"{URL}/upsert", headers=headers, json={"name": "Acme"}).status_code == 422


def test_list_and_a_companys_contacts(client: TestClient, actors: Actors, container: Container) -> None:
    alice = actors.alice.principal
    acme = make_company(container, alice, name="Acme", domain="acme.com")
    globex = make_company(container, alice, name="Globex", domain="globex.com")
    ada = make_contact(container, alice, company_id=acme.id)
    make_contact(container, alice, company_id=globex.id)
    headers = actors.alice.headers(Scope.READ)

    assert [c["id"] for c in client.get(URL, headers=headers).json()["data"]] == [globex.id, acme.id]
    assert [c["id"] for c in client.get(URL, headers=headers, params={"q": "acm"}).json()["data"]] == [acme.id]
    assert [c["id"] for c in client.get(URL, headers=headers, params={"domain": "globex.com"}).json()["data"]] == [
        globex.id]
    page = client.get(URL, headers=headers, params={"limit": 1}).json()
    assert [c["id"] for c in page["data"]] == [globex.id]
    rest = client.get(URL, headers=headers, params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert ([c["id"] for c in rest["data"]], rest["next_cursor"]) == ([acme.id], None)

    contacts = client.get(f"{URL}/{acme.id}/contacts", headers=headers).json()
    assert [(c["id"], c["company"]) for c in contacts["data"]] == [(ada.id, {"id": acme.id, "name": "Acme"})]


def test_linking_a_contact_to_another_workspaces_company_is_refused(client: TestClient, actors: Actors,
                                                                    container: Container) -> None:
    globex = make_company(container, actors.charlie.principal, name="Globex")
    contact = make_contact(container, actors.alice.principal)
    headers = actors.alice.headers(Scope.WRITE)
    before = counts(container)
    created = client.post("/api/v1/contacts", headers=headers, json={"email": "x@example.com",
                                                                     "company_id": globex.id})
    patched = client.patch(f"/api/v1/contacts/{contact.id}", headers=headers, json={"company_id": globex.id})
    for response in (created, patched):
        assert response.status_code == 422
        assert response.json()["errors"] == [{"field": "company_id",
                                              "message": "no such company in this workspace"}]
    assert counts(container) == before


def test_other_workspaces_get_404_and_readers_403(client: TestClient, actors: Actors, container: Container) -> None:
    acme = make_company(container, actors.alice.principal, name="Acme")
    before = counts(container)
    charlie = actors.charlie.headers(Scope.WRITE)
    reader = actors.alice.headers(Scope.READ)
    for method, path, body in [("GET", f"{URL}/{acme.id}", None), ("PATCH", f"{URL}/{acme.id}", {"name": "X"}),
                               ("DELETE", f"{URL}/{acme.id}", None), ("GET", f"{URL}/{acme.id}/contacts", None)]:
        assert client.request(method, path, headers=charlie, json=body).status_code == 404, (method, path)
    for method, path, body in [("POST", URL, {"name": "X"}), ("POST", f"{URL}/upsert", {"domain": "x.com"}),
                               ("PATCH", f"{URL}/{acme.id}", {"name": "X"}), ("DELETE", f"{URL}/{acme.id}", None)]:
        assert client.request(method, path, headers=reader, json=body).status_code == 403, (method, path)
    assert counts(container) == before
