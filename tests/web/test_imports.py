"""The import screens: upload, preview with the mapping, start, then the detail with counts and errors."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from httpx import Response

from cadenza.auth import Role
from cadenza.bootstrap import Container
from cadenza.contacts.schemas import ContactFilters
from tests.conftest import Actor, Actors
from tests.web.ui import SignIn, post_form, session_token

CSV = ("E-mail;Vorname;Nachname;Plan code\r\n"
       "ada@example.com;Ada;Lovelace;p1\r\n"
       "not-an-email;Bad;Row;p2\r\n"
       "grace@example.com;Grace;Hopper;p3\r\n").encode("cp1252")


def upload(client: TestClient, name: str = "people.csv", data: bytes = CSV) -> Response:
    return client.post("/imports/new", data={"csrf_token": session_token(client)},
                       files={"file": (name, data, "text/csv")}, follow_redirects=False)


def test_upload_shows_the_detected_format_and_guessed_mapping(sign_in_as: SignIn, actors: Actors) -> None:
    client = sign_in_as(actors.alice)

    response = upload(client)

    assert response.status_code == 303
    token = response.headers["location"].removeprefix("/imports/new/")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    page = client.get(response.headers["location"]).text
    assert "Delimiter: Semicolon" in page
    assert re.search(r"Encoding: [\w-]+", page)
    selected = dict(re.findall(r'data-header="([^"]+)">.*?<option value="([^"]+)" selected', page, re.S))
    assert selected == {"E-mail": "email", "Vorname": "first_name", "Nachname": "last_name", "Plan code": "ignore"}
    assert "Lovelace" in page and "Line 2" in page


def test_an_upload_belongs_to_its_workspace(sign_in_as: SignIn, actors: Actors) -> None:
    location = upload(sign_in_as(actors.alice)).headers["location"]

    assert sign_in_as(actors.charlie).get(location).status_code == 404


def test_starting_runs_the_chosen_mapping_and_the_detail_shows_counts_and_errors(
        sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    client = sign_in_as(actors.alice)
    location = upload(client).headers["location"]

    response = post_form(client, location, {
        "header-0": "E-mail", "map-0": "email", "header-1": "Vorname", "map-1": "first_name",
        "header-2": "Nachname", "map-2": "ignore", "header-3": "Plan code", "map-3": "ignore",
        "update_existing": "yes"})

    assert response.status_code == 303
    import_id = int(response.headers["location"].removeprefix("/imports/"))
    job = container.imports.get_import(actors.alice.principal, import_id)
    assert job.status == "pending"
    assert job.mapping["Nachname"] == "ignore"
    pending = client.get(f"/imports/{import_id}").text
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in pending
    assert client.get(location).status_code == 404  # the upload was handed over and removed

    container.imports.run_import(import_id)

    page = client.get(f"/imports/{import_id}").text
    counts = dict(re.findall(r'data-field="(rows_\w+)">([\d,]+)<', page))
    assert counts == {"rows_total": "3", "rows_created": "2", "rows_updated": "0", "rows_skipped": "0",
                      "rows_failed": "1"}
    assert 'data-testid="import-status">done<' in page
    assert "http-equiv" not in page
    assert re.search(r'<td class="num">3</td><td>E-mail</td>', page)
    ada = container.contacts.list_contacts(actors.alice.principal, _filters("ada@example.com")).items[0]
    assert (ada.first_name, ada.last_name) == ("Ada", None)

    report = client.get(f"/imports/{import_id}/errors.csv")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    lines = report.text.splitlines()
    assert lines[0] == "line,column,message,row" and lines[1].startswith("3,E-mail,")
    assert len(lines) == 2

    assert "people.csv" in client.get("/imports").text
    assert f'href="/imports/{import_id}"' in client.get("/").text


def _filters(email: str) -> ContactFilters:
    return ContactFilters(email=email)


def test_a_mapping_the_service_refuses_is_shown_on_the_preview(sign_in_as: SignIn, actors: Actors,
                                                               container: Container) -> None:
    client = sign_in_as(actors.alice)
    location = upload(client).headers["location"]

    response = post_form(client, location, {"header-0": "E-mail", "map-0": "email", "header-1": "Vorname",
                                            "map-1": "email"})

    assert response.status_code == 422
    assert 'class="flash flash-error"' in response.text
    assert container.imports.list_imports(actors.alice.principal).items == []


def test_uploading_nothing_asks_for_a_file(sign_in_as: SignIn, actors: Actors) -> None:
    client = sign_in_as(actors.alice)

    response = client.post("/imports/new", data={"csrf_token": session_token(client)},
                           files={"file": ("", b"", "text/csv")}, follow_redirects=False)

    assert response.status_code == 422
    assert "Choose a CSV file to upload." in response.text


def test_an_upload_without_the_csrf_token_is_refused(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    client = sign_in_as(actors.alice)

    response = client.post("/imports/new", files={"file": ("people.csv", CSV, "text/csv")}, follow_redirects=False)

    assert response.status_code == 403
    uploads = container.settings.data_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_an_analyst_cannot_upload(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    container.access.create_user(actors.alice.principal, "ann@acme.test", "analyst password", Role.ANALYST)
    client = sign_in_as(Actor("ann", "ann@acme.test", "analyst password", actors.alice.principal, {}))

    assert client.get("/imports/new").status_code == 403
    response = upload(client)

    assert response.status_code == 403
    assert "can read but not change data" in response.text
    uploads = container.settings.data_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_an_import_whose_upload_was_deleted_is_no_longer_offered_for_resuming(
        sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    client = sign_in_as(actors.alice)
    principal = actors.alice.principal
    failed = container.imports.create_import(principal, "people.csv", io.BytesIO(CSV), run_in_background=False)
    cancelled = container.imports.cancel_import(principal, container.imports.create_import(
        principal, "people.csv", io.BytesIO(CSV), run_in_background=False).id)
    assert "Resume import" in client.get(f"/imports/{cancelled.id}").text

    container.clock.advance(days=container.settings.import_upload_retention_days + 1)  # type: ignore[attr-defined]
    assert container.imports.delete_stale_uploads() == 2

    client = sign_in_as(actors.alice)  # the first session expired meanwhile
    for stopped in (failed, cancelled):
        page = client.get(f"/imports/{stopped.id}").text
        assert 'data-testid="import-status">expired<' in page
        assert "Resume import" not in page
        assert "The uploaded file was deleted 14 days after the import stopped" in page
