"""Prometheus series of the control API (served on its /metrics), in its own ``REGISTRY``.

``RequestMetrics`` counts every HTTP request by route template, method and status and times it by
route template: the template (``/api/v1/stations/{station}/…``), never the raw path, so station and
device codes cannot multiply the series. A request that matched no route counts as ``<unmatched>``.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)

REFUSED = Counter("forecourt_api_refused_requests_total",
                  "Requests answered with an error instead of doing their work", ["reason"], registry=REGISTRY)
REQUESTS = Counter("forecourt_api_requests_total", "HTTP requests by route template, method and status",
                   ["route", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("forecourt_api_request_seconds", "Time to answer an HTTP request, by route template", ["route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY)

UNMATCHED = "<unmatched>"


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (set by the router), or ``<unmatched>``."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestMetrics:
    """ASGI middleware: one count and one latency sample per HTTP request (WebSockets are not requests)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = route_template(scope)
            REQUESTS.labels(route, scope.get("method", "GET"), str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)
