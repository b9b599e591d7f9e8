"""Demo-like data for UI tests and screenshots, made through the services as a user would."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cadenza.auth import Principal
from cadenza.bootstrap import Container
from cadenza.contacts.schemas import CompanyCreate, CompanyOut, ContactCreate, ContactOut, FieldCreate

FIRST = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances",
         "Edsger", "Radia", "Tim", "Hedy", "John", "Joan"]
LAST = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen",
        "Dijkstra", "Perlman", "Berners-Lee", "Lamarr", "Backus", "Clarke"]
TAGS = ["newsletter", "vip", "trial", "webinar-2025", "churn-risk"]
PLANS = ["free", "starter", "pro", "enterprise"]


@dataclass
class DemoData:
    companies: list[CompanyOut]
    contacts: list[ContactOut]  # oldest first


def make_contacts(container: Container, principal: Principal, count: int, *, company_id: int | None = None,
                  tags: list[str] | None = None, start: int = 0, **extra: Any) -> list[ContactOut]:
    made = []
    for n in range(start, start + count):
        first, last = FIRST[n % len(FIRST)], LAST[(n // len(FIRST) + n) % len(LAST)]
        made.append(container.contacts.create_contact(principal, ContactCreate(
            first_name=first, last_name=last, email=f"{first}.{last}.{n}@example.com".lower(),
            company_id=company_id, tags=tags or [], **extra)))
    return made


def seed_demo_like(container: Container, principal: Principal, *, contacts: int = 40) -> DemoData:
    """Companies, contacts with phones, tags and custom fields, and a history of events for the first one."""
    container.fields.create_field(principal, FieldCreate(key="plan", label="Plan", type="enum", options=PLANS))
    container.fields.create_field(principal, FieldCreate(key="lifetime_value", label="Lifetime value",
                                                         type="number"))
    container.fields.create_field(principal, FieldCreate(key="signed_up_on", label="Signed up on", type="date"))
    companies = [container.companies.create_company(principal, CompanyCreate(name=name, domain=domain))
                 for name, domain in (("Initech", "initech.example"), ("Globex Corporation", "globex.example"),
                                      ("Umbrella", "umbrella.example"))]
    people = []
    for n in range(contacts):
        first, last = FIRST[n % len(FIRST)], LAST[(n * 7 + 3) % len(LAST)]
        people.append(container.contacts.create_contact(principal, ContactCreate(
            first_name=first, last_name=last, email=f"{first}.{last}{n}@example.com".lower(),
            phone=f"+4420794600{n:02d}" if n % 3 else None,
            company_id=companies[n % 3].id if n % 4 else None,
            tags=[TAGS[n % len(TAGS)], *([TAGS[(n + 2) % len(TAGS)]] if n % 2 else [])],
            external_id=f"user-{1000 + n}",
            attributes={"plan": PLANS[n % 4], "lifetime_value": 120 * (n % 9) + 49,
                        "signed_up_on": f"2025-{1 + n % 12:02d}-{1 + n % 27:02d}"},
        )))
    track_history(container, principal, people[0].external_id or "")
    return DemoData(companies, people)


def track_history(container: Container, principal: Principal, user_id: str, *, events: int = 6) -> None:
    now = container.clock.now()
    names = [("page", "Pricing", {"path": "/pricing", "referrer": "https://www.google.com/"}),
             ("track", "Signed Up", {"plan": "starter", "source": "landing page"}),
             ("track", "Invoice Paid", {"amount": 49, "currency": "EUR"}),
             ("page", "Docs", {"path": "/docs/getting-started"}),
             ("track", "Feature Used", {"feature": "segments", "count": 3}),
             ("identify", "", {"plan": "pro"})]
    messages = []
    for n in range(events):
        kind, name, props = names[n % len(names)]
        at = (now - dt.timedelta(days=events - n, hours=n)).isoformat()
        message: dict[str, Any] = {"type": kind, "userId": user_id, "timestamp": at, "messageId": f"m-{user_id}-{n}"}
        if kind == "track":
            message.update(event=name, properties=props)
        elif kind == "page":
            message.update(name=name, properties=props)
        else:
            message.update(traits=props)
        messages.append(message)
    container.ingest.ingest(principal, messages)
