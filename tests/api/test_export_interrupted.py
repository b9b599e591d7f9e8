"""A CSV export that fails half-way is a failed download for the client, never a short file that looks whole."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from cadenza.auth import Scope
from cadenza.bootstrap import Container
from cadenza.contacts import export
from tests.conftest import Actors
from tests.contacts.factories import make_contact
from tests.live import serving


def test_a_database_error_after_the_first_page_aborts_the_transfer(container: Container, actors: Actors,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        make_contact(container, actors.alice.principal, email=f"person{n}@example.com")
    real_page = export._page
    pages: list[int | None] = []

    def one_then_broken(db: Any, workspace_id: int, filters: Any, before_id: int | None,
                        page: int) -> tuple[list[Any], bool]:
        pages.append(before_id)
        if len(pages) > 1:
            raise OperationalError("SELECT …", {}, Exception("the database went away"))
        contacts, _more = real_page(db, workspace_id, filters, before_id, 1)
        return contacts, True

    monkeypatch.setattr(export, "_page", one_then_broken)
    received: list[bytes] = []

    with (serving(container) as live, pytest.raises(httpx.RemoteProtocolError, match="incomplete"),
          httpx.stream("GET", live.url("/api/v1/contacts/export.csv"), timeout=10,
                       headers=actors.alice.headers(Scope.READ)) as response):
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            received.append(chunk)

    assert len(pages) == 2  # the first page was sent, the second failed
    assert b"person2@example.com" in b"".join(received)  # newest first: the one page that was read
