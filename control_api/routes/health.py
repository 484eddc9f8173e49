"""Liveness and readiness (/healthz, the one shape of ``telemetry/contracts/health.py``) and Prometheus
metrics (/metrics: the API's own registry, then the standard process/python collectors)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from control_api.database import DatabaseUnavailable
from control_api.deps import Db
from control_api.metrics import REGISTRY as API_REGISTRY
from telemetry.contracts.health import Check, check, health, http_status

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(db: Db, request: Request, response: Response) -> dict[str, object]:
    checks: dict[str, Check] = {}
    try:
        async with db.connection() as conn:
            await conn.execute("SELECT 1")
        checks["database"] = check(True, "ok")
    except DatabaseUnavailable as exc:
        checks["database"] = check(False, f"unavailable: {exc}")
    hub = request.app.state.hub
    checks["live_updates"] = check(hub.listening.is_set(), {"state": "ok" if hub.listening.is_set() else "paused",
                                                            "websocket_clients": hub.clients})
    body = health("api", checks)
    response.status_code = http_status(body)
    return dict(body)


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    return Response(generate_latest(API_REGISTRY) + generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
