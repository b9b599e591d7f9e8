"""Realistic Segment traffic for the demo workspace: companies, people and 90 days of what they did.

Pure and deterministic for a given `random.Random`: the same seed gives the same calls, messageIds
included, so filling the demo twice stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

HISTORY = dt.timedelta(days=90)

COMPANIES = [
    ("Northwind Traders", "Retail"), ("Globex", "Manufacturing"), ("Initech", "Software"), ("Umbrella Health",
    "Healthcare"), ("Stark Logistics", "Logistics"), ("Wayne Foods", "Food"), ("Cyberdyne Labs", "Robotics"),
    ("Soylent Kitchens", "Food"), ("Tyrell Bio", "Biotech"), ("Wonka Sweets", "Retail"), ("Hooli", "Software"),
    ("Pied Piper", "Software"), ("Vandelay Imports", "Logistics"), ("Oscorp", "Biotech"), ("Gringotts Finance",
    "Finance"), ("Monarch Travel", "Travel"), ("Blue Sun", "Energy"), ("Aperture Research", "Research"),
    ("Black Mesa", "Research"), ("Massive Dynamic", "Manufacturing"), ("Prestige Worldwide", "Media"),
    ("Dunder Paper", "Retail"), ("Sterling Cooper", "Media"), ("Bluth Homes", "Real estate"), ("Krusty Brands",
    "Food"), ("Duff Brewing", "Food"), ("Acme Outdoor", "Retail"), ("Nakatomi Trading", "Finance"),
    ("Los Pollos", "Food"), ("Gekko Capital", "Finance"),
]
FIRST_NAMES = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Barbara", "Ken", "Radia", "Edsger",
               "Frances", "Donald", "Hedy", "John", "Sophie", "Lucas", "Emma", "Noah", "Mia", "Léa", "Jonas", "Chloé",
               "Mateo", "Sofía", "Daan", "Anouk", "Hugo", "Ines", "Oliver"]
LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Berners-Lee", "Liskov", "Thompson",
              "Perlman", "Dijkstra", "Allen", "Knuth", "Lamarr", "Backus", "Wilson", "Martin", "Bernard", "Müller",
              "Schmidt", "García", "López", "de Vries", "Jansen", "Dubois", "Moreau", "Smith", "Brown", "Rossi",
              "Novak"]
# (country, share, phone pattern: each x is a random digit, timezone)
COUNTRIES = [("US", 30, "+1 202 555 01xx", "America/New_York"), ("GB", 20, "+44 7911 1xxxxx", "Europe/London"),
             ("FR", 15, "+33 6 1x xx xx xx", "Europe/Paris"), ("DE", 15, "+49 151 2xxxxxxx", "Europe/Berlin"),
             ("ES", 10, "+34 61x xxx xxx", "Europe/Madrid"), ("NL", 10, "+31 6 1xxxxxxx", "Europe/Amsterdam")]
PRODUCTS = [("sku-trail-3", "Trail Runner 3", "Shoes", 119.0), ("sku-pack-25", "City Backpack 25L", "Bags", 79.5),
            ("sku-merino", "Merino Tee", "Apparel", 45.0), ("sku-shell", "Rain Shell", "Apparel", 189.0),
            ("sku-mug", "Camp Mug", "Outdoor", 14.9), ("sku-lamp", "Headlamp 400", "Outdoor", 39.0)]
PAGES = [("Home", "/"), ("Pricing", "/pricing"), ("Spring trails", "/blog/spring-trails"), ("Shop", "/shop"),
         ("Getting started", "/docs/getting-started")]
CAMPAIGNS = [("welcome", "Welcome to Acme Outdoor"), ("spring-sale", "Spring sale: 20% off trail shoes"),
             ("newsletter-04", "Four trails for this weekend")]


@dataclass(frozen=True)
class _Person:
    number: int
    first: str
    last: str
    country: tuple[str, int, str, str]
    company: int | None
    signed_up: dt.datetime


class _Calls:
    def __init__(self) -> None:
        self.calls: list[tuple[dt.datetime, int, dict[str, Any]]] = []

    def add(self, at: dt.datetime, call: dict[str, Any]) -> None:
        number = len(self.calls)
        call["messageId"] = f"demo-{number:06d}"
        call["timestamp"] = at.isoformat().replace("+00:00", "Z")
        self.calls.append((at, number, call))


def demo_traffic(now: dt.datetime, *, contacts: int, rng: random.Random, batch_size: int = 500) -> Iterator[list[
        dict[str, Any]]]:
    """Batches of Segment calls in time order: anonymous visits, sign-ups (identify + group), activity."""
    calls = _Calls()
    for number in range(contacts):
        person = _person(rng, number, now)
        _visits_before_sign_up(rng, calls, person)
        _sign_up(rng, calls, person)
        _activity(rng, calls, person, now)
    ordered = [call for _at, _n, call in sorted(calls.calls, key=lambda item: (item[0], item[1]))]
    for start in range(0, len(ordered), batch_size):
        yield ordered[start:start + batch_size]


def _person(rng: random.Random, number: int, now: dt.datetime) -> _Person:
    country = rng.choices(COUNTRIES, weights=[c[1] for c in COUNTRIES])[0]
    company = rng.randrange(len(COMPANIES)) if rng.random() < 0.6 else None
    # Anonymous visits come up to 3 days before signing up: everything stays within the 90 days.
    signed_up = now - HISTORY + dt.timedelta(days=3, seconds=rng.randrange(int(HISTORY.total_seconds() * 0.9)))
    return _Person(number, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), country, company, signed_up)


def _domain(company: int) -> str:
    return "".join(ch for ch in COMPANIES[company][0].lower() if ch.isalnum()) + ".example"


def _context(rng: random.Random, timezone: str, page: tuple[str, str] | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"library": {"name": "analytics.js", "version": "5.2.0"}, "timezone": timezone,
                               "ip": f"203.0.113.{rng.randrange(1, 255)}", "locale": "en-GB"}
    if page:
        context["page"] = {"path": page[1], "url": f"https://shop.acme.example{page[1]}", "title": page[0]}
    return context


def _page_call(rng: random.Random, person: _Person, **who: str) -> dict[str, Any]:
    page = rng.choice(PAGES)
    return {"type": "page", **who, "name": page[0], "context": _context(rng, person.country[3], page),
            "properties": {"path": page[1], "url": f"https://shop.acme.example{page[1]}", "title": page[0],
                           "referrer": rng.choice(["https://www.google.com/", "", "https://news.ycombinator.com/"])}}


def _visits_before_sign_up(rng: random.Random, calls: _Calls, person: _Person) -> None:
    """About one person in six browsed anonymously first; the identify at sign-up stitches those visits."""
    if rng.random() >= 1 / 6:
        return
    for _ in range(rng.randint(1, 3)):
        at = person.signed_up - dt.timedelta(minutes=rng.randint(5, 3 * 24 * 60))
        calls.add(at, _page_call(rng, person, anonymousId=f"anon-{person.number}"))


def _sign_up(rng: random.Random, calls: _Calls, person: _Person) -> None:
    user_id = f"user-{person.number:05d}"
    domain = _domain(person.company) if person.company is not None else rng.choice(
        ["example.com", "example.org", "example.net"])
    name = f"{person.first}.{person.last}".lower()
    local = "".join(ch for ch in name if ch.isascii() and (ch.isalnum() or ch == "."))
    traits: dict[str, Any] = {"email": f"{local}{person.number}@{domain}", "firstName": person.first,
                              "lastName": person.last, "country": person.country[0],
                              "plan": rng.choices(["free", "pro", "team"], weights=[6, 3, 1])[0],
                              "createdAt": person.signed_up.isoformat()}
    if rng.random() < 0.7:
        traits["phone"] = "".join(str(rng.randrange(10)) if ch == "x" else ch for ch in person.country[2])
    identify = {"type": "identify", "userId": user_id, "anonymousId": f"anon-{person.number}", "traits": traits,
                "context": _context(rng, person.country[3])}
    calls.add(person.signed_up, identify)
    calls.add(person.signed_up + dt.timedelta(seconds=2), {
        "type": "track", "userId": user_id, "event": "Signed Up", "properties": {"plan": traits["plan"]}})
    if person.company is not None:
        name, industry = COMPANIES[person.company]
        calls.add(person.signed_up + dt.timedelta(seconds=5), {
            "type": "group", "userId": user_id, "groupId": f"company-{person.company:02d}",
            "traits": {"name": name, "website": f"https://www.{_domain(person.company)}", "industry": industry,
                       "employees": 20 + 37 * person.company}})


def _activity(rng: random.Random, calls: _Calls, person: _Person, now: dt.datetime) -> None:
    user_id = f"user-{person.number:05d}"
    window = max(int((now - person.signed_up).total_seconds()) - 60, 1)

    def later() -> dt.datetime:
        return person.signed_up + dt.timedelta(seconds=60 + rng.randrange(window))

    for _ in range(rng.randint(0, 3)):
        sku, name, category, price = rng.choice(PRODUCTS)
        calls.add(later(), {"type": "track", "userId": user_id, "event": "Product Viewed",
                            "properties": {"product_id": sku, "name": name, "category": category, "price": price,
                                           "currency": "EUR"}})
    for _ in range(rng.randint(0, 2)):
        campaign, subject = rng.choice(CAMPAIGNS)
        calls.add(later(), {"type": "track", "userId": user_id, "event": "Email Opened",
                            "properties": {"campaign_id": campaign, "subject": subject}})
    if rng.random() < 0.3:
        sku, name, _category, price = rng.choice(PRODUCTS)
        quantity = rng.randint(1, 3)
        calls.add(later(), {"type": "track", "userId": user_id, "event": "Order Completed",
                            "properties": {"order_id": f"o-{person.number}-{rng.randrange(10_000)}",
                                           "revenue": round(price * quantity, 2), "currency": "EUR",
                                           "products": [{"product_id": sku, "name": name, "price": price,
                                                         "quantity": quantity}]}})
    if rng.random() < 0.5:
        calls.add(later(), _page_call(rng, person, userId=user_id))
