"""Layout, error pages, static assets and security headers of the UI."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cadenza.bootstrap import Container
from cadenza.contacts.schemas import CompanyCreate
from cadenza.core.clock import FrozenClock
from tests.conftest import Actors
from tests.web.factories import make_contacts, track_history
from tests.web.ui import SignIn, found


def test_pages_forbid_framing_and_inline_scripts(sign_in_as: SignIn, actors: Actors) -> None:
    response = sign_in_as(actors.alice).get("/")

    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text and " onclick=" not in response.text and ' style="' not in response.text


def test_the_layout_names_the_workspace_and_marks_future_sections_soon(sign_in_as: SignIn, actors: Actors) -> None:
    page = sign_in_as(actors.alice).get("/").text

    assert '<span class="workspace-name">Acme</span>' in page
    for future in ("Segments", "Journeys", "Messages", "Analytics"):
        assert f'<span>{future}</span><span class="soon">soon</span>' in page
        assert f'href="/{future.lower()}"' not in page
    assert 'class="nav-item is-active" href="/"' in page


def test_the_dashboard_counts_this_workspace_only(sign_in_as: SignIn, actors: Actors, container: Container,
                                                   clock: FrozenClock) -> None:
    make_contacts(container, actors.alice.principal, 3)
    make_contacts(container, actors.charlie.principal, 2, start=10)
    container.companies.create_company(actors.charlie.principal, CompanyCreate(name="Globex"))
    track_history(container, actors.alice.principal, "user-7", events=4)  # identifies a 4th contact
    clock.advance(days=7, seconds=1)
    track_history(container, actors.alice.principal, "user-8", events=3)  # a 5th, 3 events within 7 days

    page = sign_in_as(actors.alice).get("/").text.replace("\n", "")

    def count(name: str) -> str:
        return found(rf'data-testid="count-{name}">.*?<div class="stat-value">([\d,]+)<', page)

    assert (count("contacts"), count("companies"), count("events")) == ("5", "0", "3")


def test_an_unknown_page_is_an_html_404_but_the_api_keeps_problem_json(client: TestClient) -> None:
    page = client.get("/no/such/page", headers={"Accept": "text/html"})
    api = client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})

    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "There is no page at this address." in page.text
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


def test_static_assets_are_served_with_long_caching(client: TestClient) -> None:
    login = client.get("/login").text
    stylesheet = found(r'href="(/static/cadenza\.css\?v=[0-9a-f]{10})"', login)
    script = found(r'src="(/static/js/main\.js\?v=[0-9a-f]{10})"', login)

    css = client.get(stylesheet)
    js = client.get(script)

    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "--primary:" in css.text
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "http://" not in css.text and "https://" not in js.text  # nothing fetched from elsewhere


def test_a_module_imported_by_its_bare_path_is_revalidated_not_kept(client: TestClient) -> None:
    main = client.get(found(r'src="(/static/js/main\.js\?v=[0-9a-f]{10})"', client.get("/login").text))
    imported = found(r'from "\./(import-progress\.js)"', main.text)

    module = client.get(f"/static/js/{imported}")

    assert module.status_code == 200
    assert module.headers["cache-control"] == "no-cache"
    assert client.get(f"/static/js/{imported}", headers={"If-None-Match": module.headers["etag"]}).status_code == 304
