"""Issue 12: schemathesis generates requests from the API's own OpenAPI description (valid ones and
invalid ones: wrong types, out-of-range numbers, arbitrary Unicode and NUL in paths, odd bodies) and
the running API answers none of them with a server error, on head office's API and on a station server's (a
503 that says what is not set up is an answer, not an error).

Every CI run shares a fixed budget of cases among the operations, so its cost stays about the same as
routes are added; the deep run (``DEEP``, many cases per operation) is marked ``slow``:
``pytest -m slow tests/integration/api/test_openapi_fuzz.py`` (docs/api.md, "Fuzzing").

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
from schemathesis.schemas import APIOperation

from control_api.app import create_app
from forecourt.roles import Role
from telemetry.contracts.broker import BrokerAddress
from tests.integration.api.support import running_api
from tests.support.auth import admin_headers, customer_headers

pytestmark = pytest.mark.integration

BUDGET = 1000          # CI: cases per role and generation mode, shared among the operations …
FLOOR = 10             # … but never fewer than this for one operation
DEEP = {True: 150, False: 30}   # the slow run: per operation, with a free-text path parameter or not
CUSTOMER = customer_headers()


def _free_text(operation: APIOperation) -> bool:
    """A string path parameter that is not a uuid or date: where arbitrary Unicode and NUL reach our code."""
    return any(p.definition.get("schema", {}).get("type") == "string"
               and "format" not in p.definition.get("schema", {}) for p in operation.path_parameters)


def examples(operations: list[APIOperation], deep: bool) -> list[int]:
    """Cases per operation: in CI a fixed budget shared out, an operation with free text weighing double,
    so a run costs about the same however many routes there are (until the floor is reached)."""
    if deep:
        return [DEEP[_free_text(o)] for o in operations]
    weights = [2 if _free_text(o) else 1 for o in operations]
    return [max(FLOOR, BUDGET * w // sum(weights)) for w in weights]


def _send(http: httpx.Client, case: Case, base_url: str) -> httpx.Response:
    request: dict[str, Any] = case.as_transport_kwargs(base_url=base_url)
    data = request.get("data")
    body: dict[str, Any] = {"data": data} if isinstance(data, dict) else {"content": data}   # a form, or raw bytes
    # the customer H5's routes refuse staff tokens (docs/h5.md): a customer calls them, so they are fuzzed past the gate
    caller = CUSTOMER if case.operation.path.startswith("/api/v1/h5/") else {}
    return http.request(request["method"], request["url"], params=request.get("params"),
                        headers={**caller, **(request.get("headers") or {})}, json=request.get("json"), **body)


def _deliberately_unavailable(answer: httpx.Response) -> bool:
    """A 503 that says what is not set up or not reachable (problem+json with a detail: the IC issuer key, the
    WeChat mini program, head office from a station server) is an answer, not a server error."""
    return (answer.status_code == 503 and answer.headers.get("content-type", "").startswith("application/problem+json")
            and bool(answer.json().get("detail")))


def _fuzz(base_url: str, role: Role, deep: bool) -> list[str]:
    """Every operation in both generation modes; the server errors found, each as a curl command."""
    schema = schemathesis.openapi.from_dict(create_app("postgresql://unused", role=role).openapi())
    server_errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    with httpx.Client(timeout=20, headers=admin_headers()) as http:
        for operation, count in zip(operations, examples(operations, deep), strict=True):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @settings(max_examples=count, database=None, derandomize=True, deadline=None,
                          suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case: Case) -> None:
                    answer = _send(http, case, base_url)
                    if answer.status_code >= 500 and not _deliberately_unavailable(answer):
                        server_errors.append(f"{answer.status_code} {answer.text[:200]}\n  {case.as_curl_command()}")

                try:
                    call()
                except Unsatisfiable:     # an operation without parameters has no invalid form
                    assert mode is GenerationMode.NEGATIVE
    return server_errors


async def _fuzz_role(role: Role, deep: bool, request: pytest.FixtureRequest, broker: BrokerAddress) -> None:
    database = request.getfixturevalue("station_database_url" if role is Role.STATION else "database_url")
    async with running_api(database, broker, role=role) as port:
        server_errors = await asyncio.to_thread(_fuzz, f"http://127.0.0.1:{port}", role, deep)
    assert not server_errors, "\n".join(server_errors[:20])


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.timeout(600)
async def test_generated_requests_get_no_server_error(role: Role, request: pytest.FixtureRequest,
                                                      broker: BrokerAddress) -> None:
    await _fuzz_role(role, False, request, broker)


@pytest.mark.slow
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.timeout(1800)   # ≈ 4 min per 15 operations on 2 busy cores
async def test_many_generated_requests_get_no_server_error(role: Role, request: pytest.FixtureRequest,
                                                           broker: BrokerAddress) -> None:
    await _fuzz_role(role, True, request, broker)
