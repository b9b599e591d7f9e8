"""/docs points at files this server serves itself, never at a CDN; ReDoc is not served."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cadenza.api.docs import ASSETS, assets_directory


def test_the_docs_page_loads_only_local_assets(client: TestClient) -> None:
    page = client.get("/docs")

    assert page.status_code == 200
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert urls, "no asset found on the page"
    assert all(url.startswith((ASSETS, "/openapi.json")) for url in urls), urls
    assert "https://" not in page.text.replace("https://cadenza.dev/", "")


@pytest.mark.parametrize("name", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"])
def test_the_assets_are_served_from_the_installed_package_and_cached(client: TestClient, name: str) -> None:
    assert (assets_directory() / name).is_file()
    answer = client.get(f"{ASSETS}/{name}?v=1")

    assert answer.status_code == 200
    assert answer.content == (assets_directory() / name).read_bytes()
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_redoc_is_not_served(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
