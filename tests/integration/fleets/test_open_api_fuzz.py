"""Issue 19: schemathesis against the fleets open API and its management routes (control_api/routes/
fleet_open_api.py), as tests/integration/api/test_openapi_fuzz.py drives it for the whole API, with a partner's
real key bound to an enterprise that has vehicles and fuellings, so generated requests get past the gate and
reach the queries: none may be answered with a server error."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation

from business_services.fleets import statements
from business_services.fleets.settlement_model import CHINA
from control_api.app import create_app
from telemetry.contracts.broker import BrokerAddress
from tests.integration.api.support import running_api
from tests.integration.api.test_openapi_fuzz import _deliberately_unavailable, _send
from tests.integration.fleets.open_api_support import fleet, sale
from tests.support.auth import admin_headers

pytestmark = pytest.mark.integration
CASES = 40             # per operation and generation mode


def _ours(path: str) -> bool:
    return path.startswith("/api/v1/open/fleet") or re.match(
        r"^/api/v1/fleet-enterprises/\{enterprise\}/(partner-keys|webhooks|portal-users)", path) is not None


@dataclass
class Run:
    http: httpx.Client
    base_url: str
    enterprise: str
    statement: str
    answered: set[str] = field(default_factory=set)        # operations answered 200 at least once
    server_errors: list[str] = field(default_factory=list)

    def cases(self, operation: APIOperation, mode: GenerationMode, headers: dict[str, str]) -> None:
        @settings(max_examples=CASES, database=None, derandomize=True, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: Case) -> None:
            if "enterprise" in (case.path_parameters or {}) and mode is GenerationMode.POSITIVE:
                case.path_parameters["enterprise"] = self.enterprise     # a real one, not only made-up codes
            if "statement_no" in (case.path_parameters or {}) and mode is GenerationMode.POSITIVE:
                case.path_parameters["statement_no"] = self.statement
            case.headers = {**(case.headers or {}), **headers}
            answer = _send(self.http, case, self.base_url)
            if answer.status_code == 200:
                self.answered.add(operation.path)
            if answer.status_code >= 500 and not _deliberately_unavailable(answer):
                self.server_errors.append(f"{answer.status_code} {answer.text[:200]}\n  {case.as_curl_command()}")

        try:
            call()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE


def _fuzz(base_url: str, enterprise: str, statement: str, key: str) -> list[str]:
    """The server errors found, each as a curl command; fails unless the partner's key was answered 200 by
    every open route (so the cases reached past the gate)."""
    schema = schemathesis.openapi.from_dict(create_app("postgresql://unused").openapi())
    operations = [o for o in (r.ok() for r in schema.get_all_operations()) if _ours(o.path)]
    assert len(operations) >= 15
    with httpx.Client(timeout=20) as http:
        run = Run(http, base_url, enterprise, statement)
        for operation in operations:
            headers = {"X-API-Key": key} if operation.path.startswith("/api/v1/open/") else admin_headers()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run.cases(operation, mode, headers)
    assert {o.path for o in operations if o.path.startswith("/api/v1/open/")} <= run.answered
    return run.server_errors


@pytest.mark.timeout(600)
async def test_generated_requests_to_the_open_api_get_no_server_error(database_url: str,
                                                                      broker: BrokerAddress) -> None:
    mine, (truck,) = await fleet(database_url, "顺达物流", ["粤B12345"])
    start = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    for day in range(5):
        await sale(database_url, mine, truck, "粤B12345", 10000 + day, start + timedelta(days=day))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await statements.issue_due(conn, datetime(2026, 12, 2, tzinfo=CHINA))     # November's sales billed
    statement = f"FS{mine[1:]}-20261201"
    async with running_api(database_url, broker) as port:
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base_url, headers=admin_headers()) as http:
            made = await http.post(f"/api/v1/fleet-enterprises/{mine}/partner-keys",
                                   json={"scopes": ["vehicles", "fuellings", "balances", "statements", "pii"],
                                         "per_minute": 6000})
            assert made.status_code == 201, made.text
        server_errors = await asyncio.to_thread(_fuzz, base_url, mine, statement, made.json()["key"])
    assert not server_errors, "\n".join(server_errors[:20])
