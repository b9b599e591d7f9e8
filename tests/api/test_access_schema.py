"""Property-based checks of /api/v1/users, /api-keys, /audit-log and /me against their own OpenAPI schema.

Every answer to generated valid and invalid requests (sent with an admin key) is no 5xx and matches its
documented status codes, content type and response schema, problem+json included.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode

from cadenza.auth import Scope
from tests.api.schema_checks import run_operation
from tests.conftest import Actors

PATHS = r"^/api/v1/(users|api-keys|audit-log|me)"
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_access_control_api_conforms_to_its_schema(app: Any, actors: Actors, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=PATHS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.path == "/api/v1/me":
            continue  # no parameter, no body: nothing to make invalid
        run_operation(operation, mode, {"Authorization": f"Bearer {actors.alice.keys[Scope.ADMIN]}"},
                      max_examples=EXAMPLES[mode])
