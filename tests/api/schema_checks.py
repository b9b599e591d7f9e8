"""Running one OpenAPI operation under schemathesis: generated requests, checked answers.

(Schemathesis's `from_fixture` pytest integration reads `Function._nodeid`, which pytest 9 removed, so
each operation's strategy runs under `hypothesis.given` here instead.)
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def checks_for(mode: GenerationMode) -> list[Any]:
    """Every answer conforms to the schema; invalid requests must also be rejected."""
    return [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else list(CHECKS)


def run_operation(operation: Any, mode: GenerationMode, headers: dict[str, str], *, max_examples: int,
                  checks: list[Any] | None = None) -> None:
    chosen = checks_for(mode) if checks is None else checks

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=chosen)

    check()
