"""A tiny FastAPI app that speaks the back office's API contract, for tests of how pages are served.

The browser tests now run against the real API (``conftest.real_site``); this stays for
``test_pages.py`` (serving the built apps without a database). It implements:

- ``POST /api/v1/auth/token`` (OAuth2 password form) → ``{access_token, token_type, expires_in}``;
  401 problem+json on a wrong user name or password.
- ``GET /api/v1/me`` (Bearer) → user, roles, permissions, stations and the menus the frame renders.
- ``GET /api/v1/devices?q=&sort=&cursor=&limit=&kind=&status=`` → ``{items, next_cursor, total}``;
  ``POST /api/v1/devices`` and ``PATCH /api/v1/devices/{code}``; 422 problem+json with
  ``errors: [{field, message}]``.

It serves the built pages with the real ``control_api.pages`` router, so the browser loads exactly
what the control API would send.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse

from control_api.pages import pages_router
from telemetry.contracts.identifiers import is_code

USERNAME, PASSWORD, DISPLAY_NAME = "zhangsan", "Forecourt-2026", "张三"
WRONG_PASSWORD_DETAIL = "用户名或密码错误"  # noqa: S105 (a message, not a password)
DUPLICATE_CODE = "设备编码已存在"
BAD_CODE = "编码只能包含小写字母、数字和连字符"

MENUS: list[dict[str, Any]] = [
    {"key": "equipment", "title": "设备设施", "icon": "Monitor", "children": [
        {"key": "devices", "title": "设备管理", "path": "/equipment/devices", "permission": "device:read"},
        {"key": "inspections", "title": "巡检记录", "path": "/equipment/inspections", "permission": "inspection:read"},
    ]},
    {"key": "operations", "title": "基础运营", "icon": "Odometer", "children": [
        {"key": "stations", "title": "站点管理", "path": "/operations/stations", "permission": "station:read"},
        {"key": "shifts", "title": "交接班管理", "path": "/operations/shifts", "permission": "shift:read"},
    ]},
    {"key": "finance", "title": "财务管理", "icon": "Wallet", "children": [
        {"key": "ledger", "title": "资金流水", "path": "/finance/ledger", "permission": "ledger:read"},
    ]},
]
KINDS = ("dispenser", "tank_gauge", "gas_skid", "gas_detector", "charger")
KIND_NAMES = ("加油机", "液位仪", "加气撬", "探测器", "充电桩")


def seed_devices(count: int = 45) -> list[dict[str, str]]:
    """Devices in an order that is neither sorted by code nor by name, so sorting shows."""
    return [{"code": f"dev-{(n * 17) % 97:02d}", "name": f"{n % 4 + 1}号{KIND_NAMES[n % 5]}",
             "kind": KINDS[n % 5], "station": f"demo-{n % 3 + 1:02d}", "status": "online" if n % 4 else "offline"}
            for n in range(count)]


def problem(status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class Unauthorized(Exception):
    pass


def signed_in(request: Request, authorization: Annotated[str, Header()] = "") -> str:
    if authorization.removeprefix("Bearer ") not in request.app.state.tokens:
        raise Unauthorized
    return USERNAME


User = Annotated[str, Depends(signed_in)]


def build_contract_app(dist: Path) -> FastAPI:
    app = FastAPI()
    tokens: set[str] = set()
    app.state.tokens = tokens
    devices = seed_devices()
    app.state.devices = devices

    @app.exception_handler(Unauthorized)
    async def unauthorized(_request: object, _exc: Unauthorized) -> JSONResponse:
        return problem(401, "Unauthorized", "请先登录")

    @app.post("/api/v1/auth/token", response_model=None)
    async def token(request: Request) -> dict[str, Any] | JSONResponse:
        form = parse_qs((await request.body()).decode())   # the OAuth2 password form, urlencoded
        if (form.get("username"), form.get("password")) != ([USERNAME], [PASSWORD]):
            return problem(401, "Unauthorized", WRONG_PASSWORD_DETAIL)
        issued = secrets.token_urlsafe(16)
        tokens.add(issued)
        return {"access_token": issued, "token_type": "bearer", "expires_in": 1800}

    @app.get("/api/v1/me")
    async def me(_user: User) -> dict[str, Any]:
        permissions = sorted(child["permission"] for menu in MENUS for child in menu["children"])
        return {"user": {"id": 7, "username": USERNAME, "display_name": DISPLAY_NAME}, "roles": ["admin"],
                "permissions": permissions, "menus": MENUS,
                "stations": [{"code": "demo-01", "name": "畅加测试站"}, {"code": "demo-02", "name": "城东加气站"}]}

    @app.get("/api/v1/devices", response_model=None)
    async def list_devices(_user: User, q: str = "", sort: str = "", cursor: str = "", limit: int = 20,
                           kind: str = "", status: str = "") -> dict[str, Any] | JSONResponse:
        field = sort.removeprefix("-")
        if field not in ("", "code", "name", "station"):
            return problem(422, "Unprocessable", "bad sort", [{"field": "sort", "message": f"不能按 {field} 排序"}])
        if not 1 <= limit <= 100 or (cursor and not cursor.isdigit()):
            return problem(422, "Unprocessable", "bad page", [{"field": "limit", "message": "1–100"}])
        rows = [d for d in devices if (not q or q in d["code"] or q in d["name"])
                and (not kind or d["kind"] == kind) and (not status or d["status"] == status)]
        if field:
            rows.sort(key=lambda d: d[field], reverse=sort.startswith("-"))
        start = int(cursor or 0)
        following = start + limit
        return {"items": rows[start:following], "total": len(rows),
                "next_cursor": str(following) if following < len(rows) else None}

    @app.post("/api/v1/devices", response_model=None)
    async def create_device(_user: User, device: dict[str, str]) -> dict[str, str] | JSONResponse:
        code = device.get("code", "")
        if not is_code(code):
            return problem(422, "Unprocessable", "invalid device", [{"field": "code", "message": BAD_CODE}])
        if any(d["code"] == code for d in devices):
            return problem(422, "Unprocessable", "invalid device", [{"field": "code", "message": DUPLICATE_CODE}])
        created = {key: device.get(key, "") for key in ("code", "name", "kind", "station")} | {"status": "offline"}
        devices.append(created)
        return created

    @app.patch("/api/v1/devices/{code}", response_model=None)
    async def edit_device(_user: User, code: str, changes: dict[str, str]) -> dict[str, str] | JSONResponse:
        found = next((d for d in devices if d["code"] == code), None)
        if found is None:
            return problem(404, "Not Found", f"设备 {code} 不存在")
        found.update({key: changes[key] for key in ("name", "kind", "station") if key in changes})
        return found

    app.include_router(pages_router(dist))
    return app
