"""The HTTP API against its own OpenAPI schema: schemathesis generates requests from it, valid and not.

Every answer must be one the schema documents (status, content type, headers,
body), and none may be a 500. Schemathesis's acceptance checks (that a
schema-valid request is never refused) are left out: a filter such as
``tags>=3`` or a file name with a path fits the schema's types and is still
refused with a 4xx that says why, as it should be.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ..api_server import ApiServer

TOKENS: dict[str, str] = {}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = ApiServer(tmp_path_factory.mktemp("openapi"), env={"DOCMILL_API_RATE_LIMIT": "10000"}).start()
    TOKENS.update(server.tokens)
    try:
        loaded = schemathesis.openapi.from_url(f"{server.url}/v1/openapi.json")
        loaded.config.generation.update(modes=list(schemathesis.GenerationMode))  # valid requests and invalid ones
        yield loaded
    finally:
        assert server.stop() == 0


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_500_or_an_answer_outside_the_schema(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKENS['alice']}"}, checks=CHECKS)
