"""Liveness and readiness (/healthz) and Prometheus metrics (/metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from control_api.database import DatabaseUnavailable
from control_api.deps import Db

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(db: Db, request: Request, response: Response) -> dict[str, object]:
    checks: dict[str, object] = {}
    try:
        async with db.connection() as conn:
            await conn.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseUnavailable as exc:
        checks["database"] = f"unavailable: {exc}"
        response.status_code = 503
    checks["live_updates"] = "ok" if request.app.state.hub.listening.is_set() else "paused"
    checks["websocket_clients"] = request.app.state.hub.clients
    return {"status": "ok" if response.status_code != 503 else "degraded", "checks": checks}


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
