"""How the API answers what goes wrong outside a route's own checks, each in one place.

- the database is away: 503 with ``Retry-After`` and a message that says to retry;
- the MQTT broker is away (or drops the API while a command waits): 503, the command not confirmed;
- a request that does not match its schema (wrong JSON, wrong types, a missing field): 422 with one
  readable line naming each problem, and the problems listed (without echoing the input back).

Each refusal is counted in ``forecourt_api_refused_requests_total{reason}`` (``control_api/metrics.py``).
"""

from __future__ import annotations

import logging

import aiomqtt
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from control_api.database import RETRY_AFTER_S, DatabaseUnavailable
from control_api.metrics import REFUSED

log = logging.getLogger(__name__)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    REFUSED.labels("database-unavailable").inc()
    return JSONResponse(
        {"detail": f"数据库暂时不可用，请 {RETRY_AFTER_S} 秒后重试 "
                   f"(the database is unavailable; retry in {RETRY_AFTER_S} s)"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_S)})


async def broker_unavailable(request: Request, exc: Exception) -> JSONResponse:
    REFUSED.labels("broker-unavailable").inc()
    log.warning("command not confirmed, MQTT broker unavailable: %s", exc)
    return JSONResponse(
        {"detail": f"MQTT 代理不可用，命令未确认，请 {RETRY_AFTER_S} 秒后重试 "
                   f"(the MQTT broker is unavailable and the command was not confirmed; retry in {RETRY_AFTER_S} s)"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_S)})


def _where(loc: tuple[object, ...] | list[object]) -> str:
    return ".".join(str(part) for part in loc) or "request"


async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    REFUSED.labels("bad-request").inc()
    problems = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                for e in exc.errors()]
    summary = "; ".join(f"{_where(p['loc'])}: {p['msg']}" for p in problems[:10])  # type: ignore[arg-type]
    return JSONResponse({"detail": f"请求格式错误 (bad request): {summary}", "errors": problems},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DatabaseUnavailable, database_unavailable)
    app.add_exception_handler(aiomqtt.MqttError, broker_unavailable)
    app.add_exception_handler(RequestValidationError, bad_request)  # type: ignore[arg-type]
