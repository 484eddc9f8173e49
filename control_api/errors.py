"""Every error the API answers is an RFC 9457 problem (``application/problem+json``), made in one place::

    {"type": "https://forecourt.dev/problems/forbidden", "title": "无权访问", "status": 403,
     "detail": "没有权限：device:command (you lack the permission …)"}

``type`` is stable (clients branch on it), ``title`` is the Chinese name of the kind of problem, ``detail``
says what happened and what to do (Chinese first, then English). A refused input is 422 with
``errors: [{field, message}]``. Besides routes' own ``HTTPException``s, handled here:

- the database is away: 503 with ``Retry-After`` and a message that says to retry;
- the MQTT broker is away (or drops the API while a command waits): 503, the command not confirmed;
- a request that does not match its schema (wrong JSON, wrong types, a missing field): 422 naming each
  problem (without echoing the input back);
- an access rule refuses (``AccessRuleError``): 422 naming the field.

Each refusal is counted in ``forecourt_api_refused_requests_total{reason}`` (``control_api/metrics.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiomqtt
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from business_services.access.model import AccessRuleError
from control_api.database import RETRY_AFTER_S, DatabaseUnavailable
from control_api.metrics import REFUSED

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://forecourt.dev/problems/"
MEDIA_TYPE = "application/problem+json"
KINDS: dict[int, tuple[str, str]] = {   # status → (type slug, Chinese title)
    400: ("bad-request", "请求有误"), 401: ("unauthorized", "未登录"), 403: ("forbidden", "无权访问"),
    404: ("not-found", "不存在"), 405: ("method-not-allowed", "不支持的方法"), 409: ("conflict", "冲突"),
    413: ("too-large", "请求过大"), 422: ("invalid-request", "请求参数错误"), 423: ("locked", "账号已锁定"),
    429: ("too-many-requests", "请求过多"), 500: ("internal-error", "内部错误"),
    503: ("unavailable", "服务暂时不可用"), 504: ("timeout", "站点未应答"),
}


def problem(status_code: int, detail: str, *, slug: str | None = None, errors: list[dict[str, str]] | None = None,
            headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An RFC 9457 answer; ``slug`` names a more specific kind than the status's own."""
    kind, title = KINDS.get(status_code, ("error", "错误"))
    body: dict[str, Any] = {"type": PROBLEM_BASE + (slug or kind), "title": title, "status": status_code,
                            "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status_code, headers=dict(headers or {}), media_type=MEDIA_TYPE)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return problem(exc.status_code, str(exc.detail), headers=exc.headers)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    REFUSED.labels("database-unavailable").inc()
    return problem(503, f"数据库暂时不可用，请 {RETRY_AFTER_S} 秒后重试 "
                        f"(the database is unavailable; retry in {RETRY_AFTER_S} s)",
                   slug="database-unavailable", headers={"Retry-After": str(RETRY_AFTER_S)})


async def broker_unavailable(request: Request, exc: Exception) -> JSONResponse:
    REFUSED.labels("broker-unavailable").inc()
    log.warning("command not confirmed, MQTT broker unavailable: %s", exc)
    return problem(503, f"MQTT 代理不可用，命令未确认，请 {RETRY_AFTER_S} 秒后重试 (the MQTT broker is "
                        f"unavailable and the command was not confirmed; retry in {RETRY_AFTER_S} s)",
                   slug="broker-unavailable", headers={"Retry-After": str(RETRY_AFTER_S)})


def _where(loc: tuple[object, ...] | list[object]) -> str:
    parts = [str(part) for part in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "request"


async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    REFUSED.labels("bad-request").inc()
    problems = [{"field": _where(list(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in exc.errors()]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:10])
    return problem(422, f"请求格式错误 (bad request): {summary}", errors=problems)


async def rule_refused(request: Request, exc: AccessRuleError) -> JSONResponse:
    return problem(422, str(exc), errors=[{"field": exc.field, "message": str(exc)}])


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(DatabaseUnavailable, database_unavailable)
    app.add_exception_handler(aiomqtt.MqttError, broker_unavailable)
    app.add_exception_handler(RequestValidationError, bad_request)  # type: ignore[arg-type]
    app.add_exception_handler(AccessRuleError, rule_refused)  # type: ignore[arg-type]
