"""The duplicates screen: pairs side by side, merge either way, dismiss."""

from __future__ import annotations

import re

import pytest

from cadenza.bootstrap import Container
from cadenza.contacts.schemas import ContactCreate, ContactOut
from cadenza.core.errors import NotFound
from cadenza.workers.loop import Worker
from tests.conftest import Actors
from tests.web.ui import SignIn, post_form


def twins(container: Container, actors: Actors) -> tuple[ContactOut, ContactOut, int]:
    alice = actors.alice.principal
    left = container.contacts.create_contact(alice, ContactCreate(first_name="Ada", email="ada@example.com",
                                                                  phone="+442079460000"))
    right = container.contacts.create_contact(alice, ContactCreate(first_name="Ada L.", email="ada@work.example",
                                                                   phone="+442079460000", tags=["vip"]))
    assert container.duplicates.find_duplicates(alice) == 1
    pair = container.duplicates.list_candidates(alice).items[0]
    return left, right, pair.id


def test_open_pairs_are_shown_side_by_side(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    left, right, pair_id = twins(container, actors)

    page = sign_in_as(actors.alice).get("/contacts/duplicates").text

    assert "Same phone number" in page
    sides = re.findall(r'class="row-link cell-main" href="/contacts/(\d+)"', page)
    assert sides == [str(left.id), str(right.id)]
    assert f'action="/contacts/duplicates/{pair_id}/dismiss"' in page


@pytest.mark.parametrize("side", ["left", "right"])
def test_merging_keeps_the_chosen_contact(sign_in_as: SignIn, actors: Actors, container: Container, side: str) -> None:
    left, right, _pair = twins(container, actors)
    survivor, merged = (left, right) if side == "left" else (right, left)
    client = sign_in_as(actors.alice)

    response = post_form(client, "/contacts/duplicates/merge", {"survivor_id": str(survivor.id),
                                                               "merged_id": str(merged.id)})

    assert response.status_code == 303
    kept = container.contacts.get_contact(actors.alice.principal, survivor.id)
    assert kept.email == survivor.email and kept.tags == ["vip"]
    with pytest.raises(NotFound):
        container.contacts.get_contact(actors.alice.principal, merged.id)
    page = client.get("/contacts/duplicates").text
    assert f"Contact #{merged.id} is now part of contact #{survivor.id}." in page
    assert "No likely duplicates" in page


def test_dismissing_leaves_both_contacts(sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    left, right, pair_id = twins(container, actors)
    client = sign_in_as(actors.alice)

    response = post_form(client, f"/contacts/duplicates/{pair_id}/dismiss")

    assert response.status_code == 303
    assert container.duplicates.list_candidates(actors.alice.principal).items == []
    assert container.duplicates.list_candidates(actors.alice.principal, status="dismissed").items[0].id == pair_id
    assert container.contacts.get_contact(actors.alice.principal, left.id).id == left.id
    assert container.contacts.get_contact(actors.alice.principal, right.id).id == right.id


def test_a_merge_without_the_csrf_token_changes_nothing(sign_in_as: SignIn, actors: Actors,
                                                        container: Container) -> None:
    left, right, _pair = twins(container, actors)
    client = sign_in_as(actors.alice)

    response = client.post("/contacts/duplicates/merge", data={"survivor_id": str(left.id),
                                                               "merged_id": str(right.id)}, follow_redirects=False)

    assert response.status_code == 403
    assert container.contacts.get_contact(actors.alice.principal, right.id).id == right.id
    assert len(container.duplicates.list_candidates(actors.alice.principal).items) == 1


# ---- scans in the background ------------------------------------------------------------------


def test_scanning_queues_a_scan_the_page_follows_until_it_shows_the_pairs(
        sign_in_as: SignIn, actors: Actors, container: Container) -> None:
    alice = actors.alice.principal
    for email in ("ada@example.com", "ada@work.example"):
        container.contacts.create_contact(alice, ContactCreate(first_name="Ada", email=email, phone="+442079460000"))
    client = sign_in_as(actors.alice)

    started = post_form(client, "/contacts/duplicates/scan")
    again = post_form(client, "/contacts/duplicates/scan")
    waiting = client.get("/contacts/duplicates").text
    Worker(container).run_once()
    finished = client.get("/contacts/duplicates").text

    assert (started.status_code, again.status_code) == (303, 303)
    assert "Scanning…" in waiting and "waiting for a worker" in waiting and "Same phone number" not in waiting
    assert 'http-equiv="refresh"' in waiting  # without JavaScript the page refreshes itself
    assert "A scan is already running" in waiting
    assert len(container.duplicate_scans.list_scans(alice).items) == 1
    assert "Last scan" in finished and "1 new likely duplicate " in finished and "Same phone number" in finished
    assert "Scanning…" not in finished and 'http-equiv="refresh"' not in finished


def test_a_failed_scan_shows_its_reason_and_offers_to_scan_again(
        sign_in_as: SignIn, actors: Actors, container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(container.duplicates, "scan_workspace", broken)
    monkeypatch.setattr("cadenza.contacts.duplicate_scans.MAX_ATTEMPTS", 1)
    client = sign_in_as(actors.alice)
    post_form(client, "/contacts/duplicates/scan")
    Worker(container).run_once()

    page = client.get("/contacts/duplicates").text

    assert "The last scan failed: RuntimeError: disk full" in page
    assert "Scan again" in page


def test_a_running_scan_can_be_cancelled_from_the_page(sign_in_as: SignIn, actors: Actors,
                                                       container: Container) -> None:
    client = sign_in_as(actors.alice)
    post_form(client, "/contacts/duplicates/scan")
    scan = container.duplicate_scans.latest_scan(actors.alice.principal)
    assert scan is not None

    response = post_form(client, f"/contacts/duplicates/scans/{scan.id}/cancel")

    assert response.status_code == 303
    page = client.get("/contacts/duplicates").text
    assert "Scan cancelled. Pairs it already found stay." in page and "The last scan was cancelled" in page
    assert container.queue.get_job(scan.job_id or 0) is not None
    assert container.queue.get_job(scan.job_id or 0).status == "cancelled"  # type: ignore[union-attr]
