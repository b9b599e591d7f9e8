"""Property-based checks of /api/v1/contacts, /companies and /fields against their own OpenAPI schema.

Schemathesis generates valid and invalid requests from `/openapi.json` and sends them through the ASGI app
with a write key; every answer must be no 5xx and must match the documented status codes, content types
and response schemas (problem+json included).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode

from cadenza.auth import Scope
from cadenza.bootstrap import Container
from tests.api.schema_checks import run_operation
from tests.conftest import Actors
from tests.contacts.factories import make_company, make_contact, make_field

PATHS = r"^/api/v1/(contacts|companies|fields)"
TAGS = ("contacts", "companies", "fields")  # other routers add paths under /contacts (merge, timeline)
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 15}


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_contacts_companies_fields_conform_to_their_schema(app: Any, container: Container, actors: Actors,
                                                           mode: GenerationMode) -> None:
    alice = actors.alice.principal
    # A little data, so that generated ids sometimes find something.
    make_field(container, alice, "plan", "enum", options=["free", "pro"])
    company = make_company(container, alice, name="Acme", domain="acme.com")
    make_contact(container, alice, email="ada@example.com", company_id=company.id, tags=["vip"],
                 attributes={"plan": "pro"})
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=PATHS, tag=list(TAGS))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 21
    for operation in operations:
        run_operation(operation, mode, actors.alice.headers(Scope.WRITE), max_examples=EXAMPLES[mode])
