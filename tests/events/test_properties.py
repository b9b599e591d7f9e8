"""Properties of ingest that must hold for any order and any split of the calls into requests."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadenza.auth import Principal
from cadenza.auth.models import Workspace
from cadenza.bootstrap import Container
from tests.events.factories import events, identify, ingest, page, track

_workspaces = itertools.count(1)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _new_workspace(container: Container) -> Principal:
    """A fresh workspace per example, so examples never see each other's data."""
    with container.db.transaction() as session:
        workspace = Workspace(name="P", slug=f"property-{next(_workspaces)}", created_at=container.clock.now())
        session.add(workspace)
        session.flush()
        return Principal.system(workspace.id)


@SETTINGS
@given(before=st.integers(0, 6), after=st.integers(0, 4), noise=st.integers(0, 3),
       splits=st.lists(st.integers(1, 4), min_size=1, max_size=12), data=st.data())
def test_every_event_of_an_anonymous_id_ends_on_the_contact_that_identified_it(
        container: Container, before: int, after: int, noise: int, splits: list[int], data: st.DataObject) -> None:
    principal = _new_workspace(container)
    visitor = [page(anonymousId="visitor", name=f"before-{i}") for i in range(before)]
    others = [page(anonymousId="someone-else", name=f"noise-{i}") for i in range(noise)]
    later = [track(f"after-{i}", anonymousId="visitor") for i in range(after)]
    calls = [*data.draw(st.permutations(visitor + others)), identify(userId="ada", anonymousId="visitor"), *later]
    requests, start = [], 0
    for size in itertools.cycle(splits):
        if start >= len(calls):
            break
        requests.append(calls[start:start + size])
        start += size

    for request in requests:
        ingest(container, principal, *request)

    stored = events(container, principal.workspace_id)
    ada = {e.contact_id for e in stored if e.anonymous_id == "visitor"}
    assert len(ada) == 1 and None not in ada
    assert len(stored) == len(calls)
    assert {e.contact_id for e in stored if e.anonymous_id == "someone-else"} <= {None}


@SETTINGS
@given(users=st.lists(st.sampled_from(["u1", "u2", "u3"]), min_size=1, max_size=8),
       kinds=st.lists(st.sampled_from(["track", "identify", "page"]), min_size=8, max_size=8))
def test_ingesting_the_same_batch_twice_stores_it_once(container: Container, users: list[str],
                                                       kinds: list[str]) -> None:
    principal = _new_workspace(container)
    build = {"track": lambda u: track(userId=u), "identify": lambda u: identify(userId=u, traits={"plan": "pro"}),
             "page": lambda u: page(userId=u, name="Home")}
    batch = [build[kind](user) for user, kind in zip(users, kinds, strict=False)]

    first = ingest(container, principal, *batch)
    second = ingest(container, principal, *batch)

    assert (first.stored_total, first.duplicates) == (len(batch), 0)
    assert (second.stored_total, second.duplicates) == (0, len(batch))
    assert sorted(e.message_id for e in events(container, principal.workspace_id)) == sorted(
        m["messageId"] for m in batch)


_json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False,
                                                                                   allow_infinity=False) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_json = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=10), inner, max_size=3), max_leaves=8)
_ids = st.none() | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12) | st.integers(0, 99)
_traits = st.dictionaries(st.sampled_from(["email", "phone", "name", "firstName", "timezone", "plan", "website",
                                           "domain", "seats"]), _json | st.sampled_from(
    ["ada@example.com", "+33 6 12 34 56 78", "Europe/Paris", "https://[::1", "x" * 300]), max_size=5)
_message = st.fixed_dictionaries({"type": st.sampled_from(["identify", "track", "page", "screen", "group", "alias",
                                                           "bogus"])}, optional={
    "userId": _ids, "anonymousId": _ids, "previousId": _ids, "groupId": _ids, "event": _ids, "name": _ids,
    "messageId": _ids, "traits": _traits | _json, "properties": _json, "context": st.fixed_dictionaries(
        {}, optional={"traits": _traits, "timezone": _json}), "timestamp": st.sampled_from(
        ["2026-01-01T10:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "yesterday", 12]),
    "sentAt": st.sampled_from(["2026-01-01T10:00:05+02:00", "9999-12-31T23:59:59Z"])})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(batch=st.lists(_message, max_size=6))
def test_any_batch_is_stored_or_refused_message_by_message_never_failing(container: Container,
                                                                        batch: list[dict[str, object]]) -> None:
    principal = _new_workspace(container)

    result = ingest(container, principal, *batch)

    assert result.stored_total + len(result.rejected) + result.duplicates == len(batch)
    assert len(events(container, principal.workspace_id)) == result.stored_total
