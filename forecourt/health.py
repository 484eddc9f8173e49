"""A tiny HTTP endpoint for services without a web app: ``/metrics`` and ``/healthz``.

``/healthz`` answers the one shape of ``telemetry/contracts/health.py`` (200 when ok, 503 otherwise).
``/metrics`` serves the service's own Prometheus registries (each service declares its series in
its own ``REGISTRY``), then prometheus_client's global one, which holds only the standard
process/python collectors: each endpoint carries only its own series.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.samples import Sample

from telemetry.contracts.health import Health, http_status


class _Labelled:
    """A registry's series with constant labels added (e.g. the edge node's ``station``)."""

    def __init__(self, registry: CollectorRegistry, labels: Mapping[str, str]) -> None:
        self.registry, self.labels = registry, dict(labels)

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            labelled.samples = [Sample(s.name, {**self.labels, **s.labels}, s.value, s.timestamp, s.exemplar)
                                for s in family.samples]
            yield labelled


def exposition(registries: Iterable[CollectorRegistry], labels: Mapping[str, str] | None = None) -> bytes:
    """The text of ``/metrics``: the service's registries (with constant ``labels``), then the standard
    process/python collectors of prometheus_client's global registry."""
    served = CollectorRegistry(auto_describe=False)
    for registry in registries:
        served.register(_Labelled(registry, labels or {}))
    return generate_latest(served) + generate_latest(REGISTRY)


async def serve_health(host: str, port: int, metrics: Callable[[], bytes], check: Callable[[], Health],
                       ) -> asyncio.Server:
    """``/metrics`` answers ``metrics()``, ``/healthz`` answers ``check()`` (200 or 503 by its status)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            path = request.split(b" ")[1].decode() if request.count(b" ") >= 2 else "/"
            if path.startswith("/metrics"):
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, metrics()
            elif path.startswith("/healthz"):
                result = check()
                status = "200 OK" if http_status(result) == 200 else "503 Service Unavailable"
                ctype, body = "application/json", json.dumps(result, default=str).encode()
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"try /metrics or /healthz\n"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                         "Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
