"""Issue 12: schemathesis generates requests from the API's own OpenAPI description (valid ones and
invalid ones: wrong types, out-of-range numbers, arbitrary Unicode and NUL in paths, odd bodies) and
the running API answers none of them with a server error.

The cases are sent with httpx rather than schemathesis' own requests transport: grafana-client brings
urllib3-future, which replaces urllib3 and breaks that transport. Generation is derandomized, so a run
is repeatable; a failure prints the request as curl.
"""

import asyncio
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.generation.case import Case

from control_api.app import create_app
from telemetry.contracts.broker import BrokerAddress
from tests.integration.api.support import running_api
from tests.support.auth import admin_headers

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 150
EXAMPLES_PER_ACCESS_OPERATION = 30   # users, keys, logins: plain CRUD, and each login costs an argon2 hash


def _send(http: httpx.Client, case: Case, base_url: str) -> httpx.Response:
    request: dict[str, Any] = case.as_transport_kwargs(base_url=base_url)
    data = request.get("data")
    body: dict[str, Any] = {"data": data} if isinstance(data, dict) else {"content": data}   # a form, or raw bytes
    return http.request(request["method"], request["url"], params=request.get("params"),
                        headers=request.get("headers"), json=request.get("json"), **body)


def _fuzz(base_url: str) -> list[str]:
    """Every operation in both generation modes; the server errors found, each as a curl command."""
    schema = schemathesis.openapi.from_dict(create_app("postgresql://unused").openapi())
    server_errors: list[str] = []
    with httpx.Client(timeout=20, headers=admin_headers()) as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                examples = EXAMPLES_PER_OPERATION if "{station}" in operation.path else EXAMPLES_PER_ACCESS_OPERATION

                @settings(max_examples=examples, database=None, derandomize=True, deadline=None,
                          suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case: Case) -> None:
                    answer = _send(http, case, base_url)
                    if answer.status_code >= 500:
                        server_errors.append(f"{answer.status_code} {answer.text[:200]}\n  {case.as_curl_command()}")

                try:
                    call()
                except Unsatisfiable:     # an operation without parameters has no invalid form
                    assert mode is GenerationMode.NEGATIVE
    return server_errors


@pytest.mark.timeout(900)   # 300 cases per operation: grows with every route (≈ 4 min for 15 on 2 busy cores)
async def test_generated_requests_get_no_server_error(database_url: str, broker: BrokerAddress) -> None:
    async with running_api(database_url, broker) as port:
        server_errors = await asyncio.to_thread(_fuzz, f"http://127.0.0.1:{port}")
    assert not server_errors, "\n".join(server_errors[:20])
