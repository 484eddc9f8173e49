"""Schemathesis against the payment routes of a station server (the station role: payments really run),
with a shift open and orders to pay: no generated request, valid or not, gets a server error."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.generation.case import Case

from business_services.access.model import PERMISSIONS
from tests.integration.sales.payments_support import STATION, add_orders, open_shift, station_api
from tests.support.auth import bearer

pytestmark = pytest.mark.integration
EXAMPLES = 60


def _fuzz(schema_json: dict[str, Any], base_url: str, headers: dict[str, str]) -> tuple[list[str], int]:
    schema = schemathesis.openapi.from_dict(schema_json)
    server_errors: list[str] = []
    sent = 0
    with httpx.Client(timeout=20, headers=headers) as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            if "payments" not in (operation.definition.raw.get("tags") or []):
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @settings(max_examples=EXAMPLES, database=None, derandomize=True, deadline=None,
                          suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case: Case) -> None:
                    nonlocal sent
                    if case.path_parameters and "station" in case.path_parameters:
                        case.path_parameters["station"] = STATION   # reach the work (bad codes: test_bad_requests)
                    request: dict[str, Any] = case.as_transport_kwargs(base_url=base_url)
                    data = request.get("data")
                    body: dict[str, Any] = {"data": data} if isinstance(data, dict) else {"content": data}
                    answer = http.request(request["method"], request["url"], params=request.get("params"),
                                          headers=request.get("headers"), json=request.get("json"), **body)
                    sent += 1
                    if answer.status_code >= 500:
                        server_errors.append(f"{answer.status_code} {answer.text[:200]}\n  {case.as_curl_command()}")

                try:
                    call()
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE
    return server_errors, sent


@pytest.mark.timeout(900)
async def test_generated_payment_requests_get_no_server_error(station_database_url: str) -> None:
    await open_shift(station_database_url)
    await add_orders(station_database_url, 5000, 6000, 7000)
    async with station_api(station_database_url) as (app, http):
        headers = bearer(app, *PERMISSIONS, stations=frozenset({STATION}), username="fuzz")
        errors, sent = await asyncio.to_thread(_fuzz, app.openapi(), str(http.base_url).rstrip("/"), headers)
    assert sent > 500
    assert not errors, "\n".join(errors[:20])
