"""Each service's /metrics holds only its own series, and every /healthz has the one shape.

The services run as the CLI runs them (``forecourt/services.py``) in one process, so a series that
landed in the wrong registry (or prometheus_client's global one) shows up on another service's page.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from forecourt.local import free_port
from forecourt.services import api_service, business_service, edge_service, ingest_service
from forecourt.settings import Settings
from telemetry.contracts.broker import BrokerAddress
from tests.support.events import wait_for
from tests.support.station import dispenser, station_for

pytestmark = pytest.mark.integration

STANDARD = ("process_", "python_")     # prometheus_client's process and platform/gc collectors


@contextlib.asynccontextmanager
async def running(*services: Awaitable[None]) -> AsyncIterator[None]:
    tasks = [asyncio.ensure_future(s) for s in services]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def families(text: str) -> dict[str, list[dict[str, str]]]:
    """Family name -> the label sets of its samples."""
    return {f.name: [s.labels for s in f.samples] for f in text_string_to_metric_families(text)}


def foreign(found: dict[str, list[dict[str, str]]], *own: str) -> list[str]:
    return sorted(name for name in found if not name.startswith(own + STANDARD))


def assert_shape(answer: httpx.Response, service: str) -> None:
    body = answer.json()
    assert set(body) == {"status", "service", "checks"} and body["service"] == service, body
    assert body["status"] in ("ok", "degraded", "down") and body["checks"], body
    for name, result in body["checks"].items():
        assert set(result) == {"ok", "detail"} and isinstance(result["ok"], bool), (name, result)
    assert answer.status_code == (200 if body["status"] == "ok" else 503), (answer.status_code, body)
    assert (body["status"] == "ok") == all(r["ok"] for r in body["checks"].values()), body


async def test_each_service_serves_only_its_own_series_and_the_one_health_shape(
        database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("edge", "ingest", "business", "api")}
    settings = Settings(data_dir=tmp_path, group=group, primary_host_id="", ingest_group=group,
                        business_group=group, ingest_share_group=None,
                        metrics_host="127.0.0.2")      # the bind setting: another loopback address than the API's
    async with dispenser() as pump:
        station_file = tmp_path / "station.yaml"
        station_file.write_text(yaml.safe_dump(station_for(pump, "st-metrics").model_dump(mode="json")))
        async with running(edge_service(settings, station_file, broker, ports["edge"]),
                           ingest_service(settings, database_url, broker, ports["ingest"]),
                           business_service(settings, database_url, broker, ports["business"]),
                           api_service(database_url, "127.0.0.1", ports["api"], broker, group)), \
                httpx.AsyncClient(timeout=5) as http:
            def url(service: str, path: str) -> str:
                host = "127.0.0.1" if service == "api" else settings.metrics_host
                return f"http://{host}:{ports[service]}{path}"

            async def all_healthy() -> bool:
                try:
                    answers = [await http.get(url(s, "/healthz")) for s in ports]
                except httpx.TransportError:
                    return False
                return all(a.status_code == 200 for a in answers)

            async def edge_polled() -> bool:
                return "forecourt_edge_polls_total" in (await http.get(url("edge", "/metrics"))).text

            await wait_for(all_healthy)
            await wait_for(edge_polled)
            for service in ports:
                assert_shape(await http.get(url(service, "/healthz")), service)
            station_page = await http.get(url("api", "/api/v1/stations/st-metrics/devices/disp-01/latest"))
            await http.get(url("api", "/no/such/page"))

            edge = families((await http.get(url("edge", "/metrics"))).text)
            ingest = families((await http.get(url("ingest", "/metrics"))).text)
            business = families((await http.get(url("business", "/metrics"))).text)
            api = families((await http.get(url("api", "/metrics"))).text)

    assert foreign(edge, "forecourt_edge_") == []
    assert foreign(ingest, "forecourt_ingest_", "forecourt_broker_") == []
    assert foreign(business, "forecourt_business_", "forecourt_broker_") == []
    assert foreign(api, "forecourt_api_") == []
    assert "python_info" in api and "python_info" in edge           # the standard collectors are kept
    edge_own = [labels for name, samples in edge.items() if name.startswith("forecourt_edge_") for labels in samples]
    assert edge_own and all(labels.get("station") == "st-metrics" for labels in edge_own)

    requests = api["forecourt_api_requests"]
    station_route = "/api/v1/stations/{station}/devices/{device}/latest"
    assert {"route": station_route, "method": "GET", "status": str(station_page.status_code)} in requests
    assert {"route": "<unmatched>", "method": "GET", "status": "404"} in requests
    assert not any("st-metrics" in labels.get("route", "") for labels in requests), "raw paths never become labels"
    assert any(labels.get("route") == station_route for labels in api["forecourt_api_request_seconds"])
